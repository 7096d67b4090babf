"""The benchmark scenarios of issue 6. Each returns figures: value, baseline, ratio."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import psycopg
from sqlalchemy import text

from api.composition import Services, build_services
from application.ports import DueJob
from application.runner import JobRunner, RunnerSettings
from bench.data import credentials, fill_log, fill_read_model, fill_sessions
from bench.harness import (
    POSTGRES_ADMIN_URL,
    Figure,
    constant_server,
    jobtrail_server,
    load,
    postgres_schema,
    rss_kib,
)
from infrastructure.chain import verify_chain
from infrastructure.rebuild import Rebuild
from infrastructure.settings import Settings
from infrastructure.targets import SqlTargetConfig, TargetsConfig, build_targets
from tests.clocks import SteppingClock


@dataclass(frozen=True)
class Sizes:
    seconds: float
    small_read_model: int
    large_read_model: int
    stream_jobs: int
    events: int
    session_rows: int


QUICK = Sizes(3, 10_000, 100_000, 100_000, 100_000, 100_000)
FULL = Sizes(8, 10_000, 1_000_000, 100_000, 1_000_000, 1_000_000)
SMOKE = Sizes(0.5, 200, 2_000, 2_000, 3_000, 3_000)  # for the test that runs the harness


@contextmanager
def database(backend: str, workdir: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.db'}"
    else:
        with postgres_schema() as url:
            yield url


@contextmanager
def services_on(url: str) -> Iterator[Services]:
    # Jobs are due at once: the deletion figure runs one as soon as it is scheduled.
    built = build_services(Settings(database_url=url, deletion_delay=timedelta(0)))
    try:
        yield built
    finally:
        built.close()


def constant_baseline(workdir: Path, sizes: Sizes) -> float:
    with constant_server(workdir) as baseline:
        return float(load(baseline.url, "GET", "/job", sizes.seconds)["rps"])  # type: ignore[arg-type]


def raw_commits_per_second(url: str, seconds: float, connections: int = 16) -> float:
    """Durable single-row INSERT+COMMIT from many connections: the database's limit."""
    conninfo = url.split("?")[0]
    schema = url.split("schema=")[1]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".raw_commits (id bigserial primary key, v text)'
        )
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    def insert(slot: int) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            while time.perf_counter() < deadline:
                conn.execute(f'INSERT INTO "{schema}".raw_commits (v) VALUES (%s)', ("x",))
                counts[slot] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=insert, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def scheduling(backend: str, workdir: Path, sizes: Sizes, constant_rps: float) -> list[Figure]:
    """Figures 1 and 7: scheduling through HTTP, and the server's peak RSS meanwhile."""
    with database(backend, workdir, "scheduling") as url:
        with services_on(url) as services:
            api_key, project_key, _ = credentials(services)
        with jobtrail_server(url, workdir) as server:
            report = load(
                server.url,
                "DELETE",
                f"/api/v1/{project_key}/users/user-{{n}}@example.com",
                sizes.seconds,
                headers={"Authorization": api_key},
            )
            peak_mib = rss_kib(server.pid, "VmHWM") / 1024
        rps = float(report["rps"])  # type: ignore[arg-type]
        ok = report["statuses"] == {200: report["requests"]}
        if backend == "postgresql":
            baseline = raw_commits_per_second(url, sizes.seconds)
            first = Figure(
                "1",
                "scheduling via HTTP, PostgreSQL (vs raw INSERT+COMMIT, 16 conns)",
                rps,
                baseline,
                "req/s",
                ">= 0.5",
                rps / baseline >= 0.5,
                "" if ok else f"statuses {report['statuses']}",
            )
        else:
            first = Figure(
                "1",
                "scheduling via HTTP, SQLite (vs constant endpoint)",
                rps,
                constant_rps,
                "req/s",
                ">= 0.25",
                rps / constant_rps >= 0.25,
                "" if ok else f"statuses {report['statuses']}",
            )
    memory = Figure(
        "7",
        f"peak RSS of serve under the load of (1), {backend}",
        peak_mib,
        150,
        "MiB",
        "< 150 MiB",
        peak_mib < 150,
    )
    return [first, memory]


def get_job(backend: str, workdir: Path, sizes: Sizes, constant_rps: float) -> list[Figure]:
    with database(backend, workdir, "get") as url:
        with services_on(url) as services:
            api_key, project_key, project_id = credentials(services)
            fill_read_model(services, project_id, 1000)
        with jobtrail_server(url, workdir) as server:
            report = load(
                server.url,
                "GET",
                f"/api/v1/{project_key}/jobs/500",
                sizes.seconds,
                headers={"Authorization": api_key},
            )
    rps = float(report["rps"])  # type: ignore[arg-type]
    return [
        Figure(
            "2",
            f"GET /jobs/{{jobId}}, {backend} (vs constant endpoint)",
            rps,
            constant_rps,
            "req/s",
            ">= 0.35",
            rps / constant_rps >= 0.35,
        )
    ]


def listing(backend: str, workdir: Path, sizes: Sizes) -> list[Figure]:
    p99: dict[int, float] = {}
    growth_mib = 0.0
    for count in (sizes.small_read_model, sizes.large_read_model):
        with database(backend, workdir, f"list-{count}") as url:
            with services_on(url) as services:
                api_key, project_key, project_id = credentials(services)
                fill_read_model(services, project_id, count)
            with jobtrail_server(url, workdir) as server:
                auth = {"Authorization": api_key}
                load(server.url, "GET", f"/api/v1/{project_key}/jobs?limit=50", 1, 4, auth)
                report = load(
                    server.url,
                    "GET",
                    f"/api/v1/{project_key}/jobs?limit=50",
                    sizes.seconds,
                    4,
                    auth,
                )
                p99[count] = float(report["p99_ms"])  # type: ignore[arg-type]
                if count >= sizes.stream_jobs:
                    growth_mib = _stream_growth(server.url, server.pid, project_key, api_key)
    ratio_note = f"{sizes.large_read_model:,} vs {sizes.small_read_model:,} jobs"
    return [
        Figure(
            "3a",
            f"GET /jobs?limit=50 p99, {ratio_note}, {backend}",
            p99[sizes.large_read_model],
            p99[sizes.small_read_model],
            "ms",
            "<= 1.5",
            p99[sizes.large_read_model] / p99[sizes.small_read_model] <= 1.5,
        ),
        Figure(
            "3b",
            f"GET /jobs unpaged ({sizes.large_read_model:,} jobs): peak RSS growth, {backend}",
            growth_mib,
            50,
            "MiB",
            "< 50 MiB",
            growth_mib < 50,
        ),
    ]


def _stream_growth(url: str, pid: int, project_key: str, api_key: str) -> float:
    before = rss_kib(pid, "VmHWM")
    received = 0
    with httpx.stream(
        "GET", f"{url}/api/v1/{project_key}/jobs", headers={"Authorization": api_key}, timeout=300
    ) as response:
        for chunk in response.iter_bytes():
            received += len(chunk)
    assert received > 0
    return (rss_kib(pid, "VmHWM") - before) / 1024


LOG_ROUNDS = 2


def log_scenarios(backend: str, workdir: Path, sizes: Sizes) -> list[Figure]:
    """Figures 4 and 5: rebuild and verify, each against raw reads of the same rows.

    Each rate is the best of LOG_ROUNDS runs, the baseline's and the tool's taken in
    turn, so that a pause of this shared machine during one run does not decide
    the ratio."""
    rates: dict[str, float] = {}
    with database(backend, workdir, "log") as url, services_on(url) as services:
        events = fill_log(services, sizes.events)

        def measure(name: str, action: object) -> None:
            rates[name] = max(rates.get(name, 0.0), _rate(events, action))

        reports: list[object] = []
        for _ in range(LOG_ROUNDS):
            measure("raw_decode", lambda: _read_all(services, decode=True))
            measure(
                "rebuild",
                lambda: Rebuild(services.log, services.database, batch_size=5000).run(),
            )
            measure("raw_read", lambda: _read_all(services, decode=False))
            measure("verify", lambda: reports.append(verify_chain(services.log, services.database)))
        assert reports and all(getattr(report, "intact", False) for report in reports)
    rebuild, raw_decode = rates["rebuild"], rates["raw_decode"]
    verify, raw_read = rates["verify"], rates["raw_read"]
    return [
        Figure(
            "4",
            f"projection rebuild over {events:,} events, {backend} (vs raw read+decode)",
            rebuild,
            raw_decode,
            "events/s",
            ">= 0.5",
            rebuild / raw_decode >= 0.5,
        ),
        Figure(
            "5",
            f"jobtrail verify over {events:,} events, {backend} (vs raw read)",
            verify,
            raw_read,
            "events/s",
            ">= 0.3",
            verify / raw_read >= 0.3,
        ),
    ]


def _read_all(services: Services, decode: bool) -> None:
    after = 0
    recorder, to_event = services.log.recorder, services.log.mapper.to_domain_event
    while page := recorder.select_notifications(start=after, limit=5000, inclusive_of_start=False):
        if decode:
            for notification in page:
                to_event(notification)
        after = page[-1].id


def _rate(count: int, action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return count / (time.perf_counter() - started)


def deletion(backend: str, workdir: Path, sizes: Sizes) -> list[Figure]:
    """Figure 6: a job deleting one user's sessions vs a raw batched DELETE loop, each
    on a freshly filled database (on PostgreSQL a second run on the same table would
    wade through the first run's dead rows)."""
    rows = sizes.session_rows
    rates = {}
    for way, delete_all in (("raw", _raw_delete_loop), ("job", _delete_through_a_job)):
        with database(backend, workdir, f"delete-{way}") as url, services_on(url) as services:
            fill_sessions(services, 1, "heavy@example.com", rows)
            rates[way] = _rate(rows, lambda s=services, d=delete_all: d(s))
    return [
        Figure(
            "6",
            f"deleting {rows:,} session rows of one user, {backend} (vs raw batched DELETE)",
            rates["job"],
            rates["raw"],
            "rows/s",
            ">= 0.7",
            rates["job"] / rates["raw"] >= 0.7,
        )
    ]


def _delete_through_a_job(services: Services) -> None:
    clock = SteppingClock(services.clock.now())
    job = services.commands.schedule_user_deletion(1, "heavy@example.com", "key:bench").job
    config = TargetsConfig(
        targets=[SqlTargetConfig(name="sessions", table="sessions", id_column="session_id")]
    )
    runner = JobRunner(
        services.commands,
        build_targets(config, services.database),
        clock,
        RunnerSettings(
            "worker:bench",
            lease=timedelta(minutes=5),
            batch_size=1000,
            record_interval=Settings().record_interval,
        ),
    )
    result = runner.run(DueJob(job.job_id, 1, "heavy@example.com"))
    assert result.value == "completed", result


def _raw_delete_loop(services: Services) -> None:
    statement = text(
        "DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM sessions "
        "WHERE project_id = 1 AND user_id = 'heavy@example.com' LIMIT 1000)"
    )
    while True:
        with services.database.writer() as conn:
            if conn.execute(statement).rowcount == 0:
                return


__all__ = ["FULL", "POSTGRES_ADMIN_URL", "QUICK", "Sizes"]

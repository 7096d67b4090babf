"""Scheduling over HTTP (figures 1, 7, 9 and 12): jobtrail against the raw database
and the constant endpoint as before, against the CRUD peer, and with two API
processes instead of one."""

import threading
import time
from pathlib import Path

import psycopg

from bench.data import credentials
from bench.databases import PeerDatabase, Sizes, database, services_on
from bench.generators import CONNECTIONS
from bench.harness import Figure, rss_kib
from bench.runs import NO_TARGET, Run, run, versus_peer
from bench.servers import Server, constant_server, jobtrail_server, peer_server

SCHEDULE = "DELETE", "/api/v1/{project}/users/{{user}}@example.com"
KNOWN_USERS = 500
"""Users asked for again and again (figure 9c): after the warm-up, each has an active
job, which a request returns (a ledger read, and its job's)."""
SCHEDULE_KNOWN = "DELETE", "/api/v1/{project}/users/known-{{id}}@example.com"


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


def schedule_on(
    server: Server,
    project_key: str,
    api_key: str,
    sizes: Sizes,
    connections: int = CONNECTIONS,
    known: bool = False,
) -> Run:
    """New users, or (``known``) the same KNOWN_USERS users again, after a warm-up
    long enough to ask for each of them once."""
    method, path = SCHEDULE_KNOWN if known else SCHEDULE
    path = path.format(project=project_key)
    auth = {"Authorization": api_key}
    warmup = max(sizes.warmup, 1) if known else sizes.warmup
    ids = KNOWN_USERS if known else 1
    return run(server, method, path, sizes.seconds, warmup, auth, ids, connections)


def _versus_peer_on_postgresql(
    server: Server, keys: tuple[str, str], sizes: Sizes, peer: Server, peer_db: PeerDatabase
) -> list[Figure]:
    """Figures 9b (64 connections) and 9c (known users), each side right after the
    other; figure 9 (16 connections, new users) is measured with the rest."""
    api_key, project_key = keys
    peer_keys = (peer_db.writes_project, peer_db.tenant.api_key)
    figures = []
    for number, what, connections, known in (
        ("9b", "64 connections", 64, False),
        ("9c", f"{KNOWN_USERS} known users asked again, 16 connections", CONNECTIONS, True),
    ):
        theirs = schedule_on(peer, *peer_keys, sizes, connections, known)
        ours = schedule_on(server, project_key, api_key, sizes, connections, known)
        name = f"scheduling via HTTP, postgresql, {what} (vs CRUD peer)"
        figures.append(versus_peer(number, name, ours, theirs))
    return figures


def http_floor(workdir: Path, sizes: Sizes, peer: Server, peer_db: PeerDatabase) -> list[Figure]:
    """Figure 9d: what 9 and 9b could reach at most. The constant endpoint (the same
    HTTP stack, no work at all) answers scheduling's requests, against the peer that
    schedules them, each at 16 and 64 connections right after the other."""
    method, path = SCHEDULE
    figures = []
    with constant_server(workdir) as constant:
        for connections in (CONNECTIONS, 64):
            theirs = schedule_on(
                peer, peer_db.writes_project, peer_db.tenant.api_key, sizes, connections
            )
            floor = run(constant, method, path.format(project="constant"), sizes.seconds,
                        sizes.warmup, {"Authorization": "constant"}, 1, connections)  # fmt: skip
            figures.append(
                Figure(
                    "9d",
                    f"the HTTP floor: a constant endpoint answering scheduling's requests, "
                    f"{connections} connections (vs CRUD peer scheduling)",
                    floor.rps,
                    theirs.rps,
                    "req/s",
                    NO_TARGET,
                    None,
                    f"{floor.describe('constant')}; {theirs.describe('peer')}",
                    floor.latency,
                    theirs.latency,
                )
            )
    return figures


def scheduling(
    backend: str,
    workdir: Path,
    sizes: Sizes,
    constant: Run,
    peer: Server | None,
    peer_db: PeerDatabase | None,
) -> list[Figure]:
    """Figures 1, 7 and 9; on PostgreSQL also 12 (scale-out), right after."""
    figures: list[Figure] = []
    peer_run = None
    if peer is not None and peer_db is not None:
        peer_run = schedule_on(peer, peer_db.writes_project, peer_db.tenant.api_key, sizes)
    with database(backend, workdir, "scheduling") as url:
        with services_on(url) as services:
            api_key, project_key, _ = credentials(services)
        with jobtrail_server(url, workdir) as server:
            ours = schedule_on(server, project_key, api_key, sizes)
            peak_mib = rss_kib(server.pid, "VmHWM") / 1024
            if backend == "postgresql" and peer is not None and peer_db is not None:
                keys = (api_key, project_key)
                more_versus_peer = _versus_peer_on_postgresql(server, keys, sizes, peer, peer_db)
        note = ours.describe("jobtrail")
        if backend == "postgresql":
            baseline = raw_commits_per_second(url, sizes.seconds)
            figures.append(
                Figure(
                    "1",
                    "scheduling via HTTP, PostgreSQL (vs raw INSERT+COMMIT, 16 conns)",
                    ours.rps,
                    baseline,
                    "req/s",
                    ">= 0.5",
                    ours.rps / baseline >= 0.5,
                    note,
                    ours.latency,
                )
            )
        else:
            figures.append(
                Figure(
                    "1",
                    "scheduling via HTTP, SQLite (vs constant endpoint)",
                    ours.rps,
                    constant.rps,
                    "req/s",
                    ">= 0.25",
                    ours.rps / constant.rps >= 0.25,
                    f"{note}; {constant.describe('constant')}",
                    ours.latency,
                    constant.latency,
                )
            )
        if peer_run is not None:
            figures.append(
                versus_peer(
                    "9",
                    f"scheduling via HTTP, {backend} (vs CRUD peer on PostgreSQL)",
                    ours,
                    peer_run,
                )
            )
        if backend == "postgresql" and peer and peer_run and peer_db:
            figures += more_versus_peer
            jobtrail_keys = (api_key, project_key)
            figures += _scale_out(url, jobtrail_keys, workdir, sizes, ours, peer_run, peer_db)
            figures += http_floor(workdir, sizes, peer, peer_db)
    figures.append(
        Figure(
            "7",
            f"peak RSS of serve under the load of (1), {backend}",
            peak_mib,
            150,
            "MiB",
            "< 150 MiB",
            peak_mib < 150,
        )
    )
    return figures


def _scale_out(
    url: str,
    jobtrail_keys: tuple[str, str],
    workdir: Path,
    sizes: Sizes,
    one: Run,
    peer_one: Run,
    peer_db: PeerDatabase,
) -> list[Figure]:
    """Figure 12: two API processes against the one-process runs just measured, on the
    same databases (a new user per request, so the earlier rows change nothing)."""
    api_key, project_key = jobtrail_keys
    with jobtrail_server(url, workdir, workers=2) as server:
        two = schedule_on(server, project_key, api_key, sizes)
    with peer_server(peer_db.conninfo, peer_db.schema, workdir, workers=2) as server:
        peer_two = schedule_on(server, peer_db.writes_project, peer_db.tenant.api_key, sizes)
    return [
        _twice("jobtrail serve --workers 2", two, one),
        _twice("CRUD peer, 2 uvicorn workers", peer_two, peer_one),
        versus_peer(
            "12b", "scheduling via HTTP, postgresql, 2 workers each (vs CRUD peer)", two, peer_two
        ),
    ]


def _twice(who: str, two: Run, one: Run) -> Figure:
    return Figure(
        "12",
        f"scheduling via HTTP, postgresql: {who} (vs 1 worker)",
        two.rps,
        one.rps,
        "req/s",
        NO_TARGET,
        None,
        f"{two.describe('2 workers')}; {one.describe('1 worker')}",
        two.latency,
        one.latency,
    )

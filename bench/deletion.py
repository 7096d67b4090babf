"""Figure 6: a deletion job against a raw batched DELETE loop."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from api.composition import Services
from application.job_records import DueJob
from application.runner import JobRunner, RunnerSettings
from bench.data import fill_sessions
from bench.databases import Sizes, database, schedule_alone, services_on
from bench.harness import Figure
from bench.log_figures import rate
from infrastructure.settings import Settings
from infrastructure.target_config import SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets


def deletion(backend: str, workdir: Path, sizes: Sizes) -> list[Figure]:
    """Figure 6: a job deleting one user's sessions vs a raw batched DELETE loop, each
    on a freshly filled database (on PostgreSQL a second run on the same table would
    wade through the first run's dead rows)."""
    rows = sizes.session_rows
    rates = {}
    for way, deleter in (("raw", _raw_delete_loop), ("job", _a_scheduled_job)):
        with database(backend, workdir, f"delete-{way}") as url, services_on(url) as services:
            fill_sessions(services, 1, "heavy@example.com", rows)
            rates[way] = rate(rows, deleter(services))
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


def _a_scheduled_job(services: Services) -> Callable[[], None]:
    """The job's run, from its start to its receipt, once it is scheduled: what the
    raw loop is compared with is deleting, not asking for it (on a machine that
    deletes 100,000 rows in a fifth of a second, scheduling was a tenth of the time)."""
    job = schedule_alone(services, 1, "heavy@example.com").job
    config = TargetsConfig(
        targets=[SqlTargetConfig(name="sessions", table="sessions", id_column="session_id")]
    )
    runner = JobRunner(
        services.commands,
        build_targets(config, services.database),
        services.clock,  # the worker's own clock: receipts recorded as in production
        RunnerSettings(
            "worker:bench",
            lease=timedelta(minutes=5),
            batch_size=1000,
            record_interval=Settings().record_interval,
        ),
    )

    def run() -> None:
        result = runner.run(DueJob(job.job_id, 1, "heavy@example.com"))
        assert result.value == "completed", result

    return run


def _raw_delete_loop(services: Services) -> Callable[[], None]:
    statement = text(
        "DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM sessions "
        "WHERE project_id = 1 AND user_id = 'heavy@example.com' LIMIT 1000)"
    )

    def run() -> None:
        while True:
            with services.database.writer() as conn:
                if conn.execute(statement).rowcount == 0:
                    return

    return run

"""Filling databases quickly with realistic volumes for the benchmarks."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from api.composition import Services
from domain.job import Job
from infrastructure.tables import jobs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 10_000


def credentials(services: Services) -> tuple[str, str, int]:
    key = services.tenancy.issue_key()
    project = services.tenancy.create_project("bench")
    return key.api_key, project.project_key, project.id


def fill_read_model(services: Services, project_id: int, count: int, first_id: int = 1) -> None:
    """Rows straight into the jobs table: the read side's volume, not the log's."""
    statuses = ("scheduled", "completed", "cancelled", "running", "failed")
    with services.database.writer() as conn:
        for start in range(first_id, first_id + count, CHUNK):
            rows: list[dict[str, Any]] = []
            for job_id in range(start, min(start + CHUNK, first_id + count)):
                user = f"user-{job_id}@example.com"
                rows.append(
                    {
                        "job_id": job_id,
                        "aggregate_id": f"00000000-0000-4000-8000-{job_id:012d}",
                        "version": 3,
                        "project_id": project_id,
                        "action": "delete_user_data",
                        "reference_id": user,
                        "description": f"Delete user sessions of userId = {user}",
                        "status": statuses[job_id % 5],
                        "errors": None,
                        "created_at": 1_750_000_000_000 + job_id,
                        "updated_at": 1_750_000_000_000 + job_id,
                        "start_at": 1_750_100_000_000,
                        "lease_until": None,
                    }
                )
            conn.execute(insert(jobs), rows)
        # Statistics, as a running installation has them (autovacuum would gather them
        # later, in the middle of a measured run): without them PostgreSQL reads a
        # page by sorting the whole project.
        conn.execute(text("ANALYZE jobs"))


def fill_log(services: Services, events: int, per_save: int = 500) -> int:
    """Jobs scheduled, started and completed (three events each) through the domain
    and the event store, hash chain included. Returns how many events were written."""
    written = 0
    job_id = 1
    while written < events:
        batch = []
        for _ in range(min(per_save, (events - written + 2) // 3)):
            at = T0 + timedelta(seconds=job_id)
            job = Job.schedule_user_deletion(
                job_id=job_id,
                project_id=1,
                user_id=f"user-{job_id}@example.com",
                subject=f"bench-subject-{job_id}",
                key_generation=0,
                start_at=at,
                actor="key:bench",
                at=at,
            )
            job.start(actor="worker:bench", at=at, lease_until=at + timedelta(minutes=1))
            job.complete(actor="worker:bench", attempt=1, at=at, remaining={})
            batch.append(job)
            job_id += 1
        services.log.save(*batch)
        written += 3 * len(batch)
    return written


def fill_sessions(services: Services, project_id: int, user_id: str, count: int) -> None:
    """``count`` sessions of one user, generated inside the database."""
    if services.database.backend == "postgresql":
        statement = text(
            "INSERT INTO sessions (project_id, user_id, user_uuid, user_agent, user_os, "
            "user_browser, user_device, user_country, start_ts, duration, events_count, "
            "pages_count, errors_count) SELECT :p, :u, 'uuid', 'agent', 'os', 'browser', '', "
            "'FR', 1750000000000 + n, 1000, 1, 1, 0 FROM generate_series(1, :n) AS n"
        )
    else:
        statement = text(
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < :n) "
            "INSERT INTO sessions (project_id, user_id, user_uuid, user_agent, user_os, "
            "user_browser, user_device, user_country, start_ts, duration, events_count, "
            "pages_count, errors_count) SELECT :p, :u, 'uuid', 'agent', 'os', 'browser', '', "
            "'FR', 1750000000000 + n, 1000, 1, 1, 0 FROM k"
        )
    with services.database.writer() as conn:
        conn.execute(statement, {"p": project_id, "u": user_id, "n": count})

"""Real workers whose target stalls for longer than the lease, on PostgreSQL.

Every DELETE the workers run waits in a trigger for longer than the lease (as a
table under lock or a slow disk would). The workers' heartbeats keep their
leases, so no job is taken over from a live worker: each completes exactly once,
with a receipt equal to what it removed, and nothing of the user is left.
"""

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from api.composition import Services, build_services
from domain.job import Job, job_aggregate_id
from infrastructure.session_store import seed_sessions
from infrastructure.settings import Settings
from tests.invariants import check_log
from tests.process.conftest import JOBTRAIL
from tests.runner_support import runner_kit

LEASE_SECONDS = 2
STALL_SECONDS = 3
SESSIONS = 30
BATCH = 15


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    yield built
    built.close()


def stall_every_delete(services: Services, seconds: float) -> None:
    with services.database.writer() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER stall BEFORE DELETE ON sessions "
                "FOR EACH STATEMENT EXECUTE FUNCTION stall()"
            )
        )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_workers_keep_their_leases_through_stalls_longer_than_the_lease(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    users = ["ada@example.com", "bo@example.com", "cy@example.com"]
    seed_sessions(services.database, 1, [*users, "bystander@example.com"], SESSIONS, kit.recordings)
    job_ids = [kit.schedule(user) for user in users]
    stall_every_delete(services, STALL_SECONDS)
    config = tmp_path / "targets.toml"
    config.write_text(
        f"batch_size = {BATCH}\n"
        '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "sessions"\n'
        'id_column = "session_id"\n'
        '[[targets]]\nkind = "files"\nname = "recordings"\n'
        f'directory = "{kit.recordings}"\npattern = "{{projectId}}/{{sessionId}}"\n'
        'sessions_from = "sessions"\n'
    )
    env = {
        **os.environ,
        "JOBTRAIL_DATABASE_URL": database_url,
        "JOBTRAIL_CONFIG": str(config),
        "JOBTRAIL_LEASE_SECONDS": str(LEASE_SECONDS),
        "JOBTRAIL_RECORD_INTERVAL": "5",  # longer than the lease, on purpose
    }
    workers = [
        subprocess.Popen(
            [str(JOBTRAIL), "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    deadline = time.monotonic() + 240  # within the test's own timeout, set above
    for worker in workers:
        _, stderr = worker.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert worker.returncode == 0, stderr[-2000:]

    for job_id in job_ids:
        events = list(services.log.events.get(job_aggregate_id(job_id)))
        assert not [e for e in events if isinstance(e, Job.TakenOver)], events
        completed = [e for e in events if isinstance(e, Job.Completed)]
        assert len(completed) == 1
        assert completed[0].deleted == {"sessions": SESSIONS, "recordings": SESSIONS}
        assert completed[0].remaining == {"sessions": 0, "recordings": 0}
    for user in users:
        assert kit.session_count(user) == 0
    assert kit.session_count("bystander@example.com") == SESSIONS
    assert kit.recording_count(1) == SESSIONS
    assert check_log(services, require_terminal=True) == []

"""Forgetting that forgets everywhere (issue 25, finding 2): a failed job's error
text is kept for good (in its Failed event, the read model and the log), so it is
kept without the user's id from the start, in any encoding a library wrote it in.

The id here has a letter outside ASCII and a space, so it is written percent-encoded
twice in botocore's URL. Letters are never escaped by any encoding (percent, JSON,
Python, forms), so every encoding of this id holds "smith": its absence is the check.
"""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from api.composition import Services
from api.logs import configure_logging
from application.forgetting import Forgetting
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.rebuild import REBUILD_TABLE, Rebuild
from infrastructure.settings import Settings
from infrastructure.target_config import S3TargetConfig, TargetsConfig
from infrastructure.targets import build_targets
from tests.clocks import SteppingClock
from tests.conftest import Tenant
from tests.process.conftest import free_port
from tests.runner_support import RunnerKit, forgetting_at, runner_kit
from tests.s3_server import CREDENTIALS
from tests.scheduling import SchedulingCommands

USER_IN_URL = "zo%C3%AB%20smith@example.com"
TRACE = "smith"


def shows_the_user(data: str | bytes) -> bool:
    shown = data.decode(errors="replace") if isinstance(data, bytes) else data
    return TRACE in shown.lower()


@contextmanager
def json_log() -> Iterator[io.StringIO]:
    """The service's logging as an operator runs it (JSON lines), into a string, at its
    most talkative level: what a library logs at DEBUG is in it too."""
    stream = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream)
    try:
        yield stream
    finally:
        logging.getLogger().handlers.clear()


def unreachable_s3_target(services: Services) -> TargetsConfig:
    return TargetsConfig(
        targets=[
            S3TargetConfig(
                name="exports",
                bucket="exports",
                # Nothing listens there: every request fails to connect.
                endpoint_url=f"http://127.0.0.1:{free_port()}",
                prefix="{projectId}/{userId}/",
            )
        ]
    )


def raw_events(services: Services) -> bytes:
    table = services.database.url.events_table
    with services.database.reader() as conn:
        states = conn.execute(text(f"SELECT state FROM {table}")).scalars()
        return b"".join(bytes(state) for state in states)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("aws")
def test_a_failed_jobs_error_keeps_no_trace_of_the_user_once_forgotten(
    client: TestClient, tenant: Tenant, app_services: Services, tmp_path: Path
) -> None:
    services = app_services
    # A worker a day later: the job (due at the next UTC midnight) is due for it.
    clock = SteppingClock(datetime.now(UTC) + timedelta(days=1))
    commands = SchedulingCommands(
        services.log,
        SqlJobIdAllocator(services.database),
        clock,
        services.settings.deletion_delay,
        after_write=lambda position: services.projector.wait_for(position, 10),
    )
    kit = RunnerKit(services, clock, tmp_path, commands)
    targets = [*build_targets(unreachable_s3_target(services), services.database)]

    with json_log() as log:
        answer = client.delete(tenant.url(f"/users/{USER_IN_URL}"), headers=tenant.headers)
        job_id = answer.json()["data"]["jobId"]
        kit.worker(kit.runner(targets=targets, retries=1)).run_due_jobs()
        failed = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"]
        assert failed["status"] == JobStatus.FAILED
        assert failed["referenceId"] == "zoë smith@example.com"
        assert "exports" in failed["errors"] and "unreachable" in failed["errors"]

        Forgetting(
            services.log,
            services.read_model,
            services.log.vault,  # type: ignore[attr-defined]
            SteppingClock(datetime.now(UTC) + timedelta(days=2)),
            timedelta(0),  # JOBTRAIL_FORGET_AFTER=0
            after_write=lambda position: services.projector.wait_for(position, 10),
        ).forget_due()

    job = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"]
    assert job["referenceId"] == FORGOTTEN
    assert not shows_the_user(job["errors"]), job["errors"]
    events = client.get(tenant.url(f"/jobs/{job_id}/events"), headers=tenant.headers)
    assert events.status_code == 200 and "Failed" in events.text
    assert not shows_the_user(events.text), events.text
    assert not shows_the_user(raw_events(services))
    # Every line but the test's own HTTP client's, which logs the URLs it asks for.
    lines = [line for line in log.getvalue().splitlines() if json.loads(line)["logger"] != "httpx2"]
    assert any(f"job {job_id} failed" in line for line in lines)
    assert not any(shows_the_user(line) for line in lines), lines


def test_an_interrupted_rebuild_keeps_no_forgotten_user_id(
    services: Services, tmp_path: Path
) -> None:
    """An operator's `projections rebuild` was interrupted (Ctrl-C, a deploy): its
    half-built table holds the rows folded so far, kept to resume from. Forgetting the
    user afterwards leaves the id there no more than in the live read model."""
    kit = runner_kit(services, tmp_path)
    job = kit.commands.schedule_user_deletion(1, "zoë smith@example.com", "key:k").job
    kit.commands.cancel(1, job.job_id, "key:k")
    for n in range(12):  # more events, so the rebuild stops after its first batch
        kit.commands.schedule_user_deletion(1, f"other-{n}@example.com", "key:k")
    services.projector.catch_up()

    def interrupted(position: int, head: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Rebuild(services.log, services.database, batch_size=4).run(interrupted)
    report = forgetting_at(services, kit.clock.current + timedelta(days=31)).forget_due()

    assert report.users == 1
    with services.database.reader() as conn:
        held = conn.execute(text(f'SELECT reference_id, description FROM "{REBUILD_TABLE}"'))
        assert not any(
            shows_the_user(f"{reference} {description}") for reference, description in held
        )

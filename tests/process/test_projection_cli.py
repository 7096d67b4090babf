"""The projection commands, including a rebuild killed half way and resumed."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from api.composition import Services, build_services
from infrastructure.settings import Settings
from infrastructure.tables import jobs
from tests.integration.test_projection import schedule_without_projecting
from tests.process.conftest import JOBTRAIL, jobtrail


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url))
    yield built
    built.close()


def status(database_url: str) -> dict[str, dict[str, object]]:
    result = jobtrail(database_url, "projections", "status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_status_reports_position_head_and_lag(services: Services, database_url: str) -> None:
    schedule_without_projecting(services, 3)
    row = status(database_url)["jobs"]
    assert (row["position"], row["head"], row["lag"], row["state"]) == (0, 9, 9, "live")
    table = jobtrail(database_url, "projections", "status")
    assert "jobs" in table.stdout and "live" in table.stdout


def test_a_killed_rebuild_is_reported_and_resumes(services: Services, database_url: str) -> None:
    schedule_without_projecting(services, 700)
    services.projector.catch_up()
    rebuild = subprocess.Popen(
        [str(JOBTRAIL), "projections", "rebuild", "--batch-size", "3"],
        env={**os.environ, "JOBTRAIL_DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(
        r.name == "jobs:rebuild" and r.position > 0 for r in services.projection_store.records()
    ):
        assert time.monotonic() < deadline, "the rebuild never committed a batch"
        time.sleep(0.02)
    rebuild.send_signal(signal.SIGKILL)
    rebuild.wait(timeout=10)

    after_the_kill = status(database_url)  # one reading: nothing runs until the resume
    interrupted = after_the_kill["jobs:rebuild"]
    assert interrupted["state"] == "rebuild interrupted"
    reached = interrupted["position"]
    assert isinstance(reached, int) and 0 < reached < services.log.head()
    assert after_the_kill["jobs"]["state"] == "live"

    resumed = jobtrail(database_url, "projections", "rebuild")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from position" in resumed.stdout
    assert "The new read model is live." in resumed.stdout
    assert set(status(database_url)) == {"jobs"}
    checked = jobtrail(database_url, "projections", "verify")
    assert checked.returncode == 0, checked.stdout
    assert "700 jobs" in checked.stdout


def test_a_second_rebuild_is_refused_with_a_clear_message(
    services: Services, database_url: str
) -> None:
    from infrastructure.rebuild import rebuild_role

    role = rebuild_role(services.database, "jobs")
    assert role.try_acquire()
    try:
        refused = jobtrail(database_url, "projections", "rebuild")
        assert refused.returncode == 1
        assert "already running" in refused.stderr
    finally:
        role.release()


def test_verify_names_every_job_that_differs(services: Services, database_url: str) -> None:
    ids = schedule_without_projecting(services, 4)
    services.projector.catch_up()
    assert jobtrail(database_url, "projections", "verify").returncode == 0
    with services.database.writer() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == ids[1]).values(status="completed"))
    result = jobtrail(database_url, "projections", "verify")
    assert result.returncode == 1
    assert (
        f"job {ids[1]}: status is 'completed' in the read model, 'scheduled' in the log"
        in result.stdout
    )
    assert "1 differences" in result.stdout

"""Real worker processes: many at once, killed mid-job, stopped by a signal."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import pytest

from api.composition import Services, build_services
from domain.job import Job, job_aggregate_id
from infrastructure.session_store import seed_sessions
from infrastructure.settings import Settings
from tests.conftest import job_now
from tests.process.conftest import JOBTRAIL, start_server
from tests.runner_support import runner_kit
from tests.waiting import eventually, job_reaches


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    yield built
    built.close()


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "JOBTRAIL_DATABASE_URL": database_url, **extra}


def spawn_worker(
    database_url: str, workdir: Path, *args: str, **env: str
) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [str(JOBTRAIL), "worker", *args],
        cwd=workdir,
        env=worker_env(database_url, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def events_of(services: Services, job_id: int) -> list[object]:
    return list(services.log.events.get(job_aggregate_id(job_id)))


@pytest.mark.timeout(300)
def test_three_worker_processes_run_two_hundred_jobs_each_exactly_once(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    users = [f"crowd-{n}@example.com" for n in range(200)]
    seed_sessions(services.database, 1, users, 3, kit.recordings)
    seed_sessions(services.database, 2, users, 3, kit.recordings)
    job_ids = [kit.schedule(user) for user in users]

    workers = [spawn_worker(database_url, tmp_path, "--once") for _ in range(3)]
    deadline = time.monotonic() + 240  # within the test's own timeout, set above
    for process in workers:
        _, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert process.returncode == 0, stderr[-2000:]

    services.projector.catch_up()
    for job_id in job_ids:
        events = events_of(services, job_id)
        assert sum(isinstance(e, Job.Completed) for e in events) == 1, events
        assert sum(isinstance(e, Job.Started) for e in events) == 1
        assert job_now(services, 1, job_id).status == "completed"
    assert kit.session_count(project_id=1) == 0
    assert kit.session_count(project_id=2) == 600
    assert kit.recording_count(1) == 0
    assert kit.recording_count(2) == 600


def test_a_worker_killed_mid_job_is_taken_over_after_its_lease(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    seed_sessions(services.database, 1, ["doomed"], 2000, kit.recordings)
    job_id = kit.schedule("doomed")
    # Every batch recorded, so that the receipt may miss at most the one batch in flight.
    env = {
        "JOBTRAIL_LEASE_SECONDS": "2",
        "JOBTRAIL_BATCH_SIZE": "5",
        "JOBTRAIL_RECORD_INTERVAL": "0",
    }
    victim = spawn_worker(database_url, tmp_path, "--once", **env)
    eventually(
        lambda: any(isinstance(e, Job.BatchDeleted) for e in events_of(services, job_id)),
        60,
        "the first batch",
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    left = events_of(services, job_id)
    assert not any(isinstance(e, Job.Completed | Job.Failed) for e in left)  # left running

    time.sleep(2.5)  # the lease runs out
    rescuer = spawn_worker(database_url, tmp_path, "--once", **env)
    _, stderr = rescuer.communicate(timeout=90)
    assert rescuer.returncode == 0, stderr[-2000:]

    events = events_of(services, job_id)
    started, taken = events[1], next(e for e in events if isinstance(e, Job.TakenOver))
    assert isinstance(started, Job.Started) and isinstance(taken, Job.TakenOver)
    assert taken.previous_owner == started.actor != taken.actor
    completed = events[-1]
    assert isinstance(completed, Job.Completed) and completed.deleted is not None
    assert kit.session_count("doomed") == 0
    # A batch deleted just before the kill but never recorded can only be missing
    # from the receipt; nothing is ever claimed that was not deleted.
    assert 2000 - 5 <= completed.deleted["sessions"] <= 2000


def test_sigterm_finishes_the_batch_releases_the_job_and_exits_cleanly(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    seed_sessions(services.database, 1, ["paused"], 3000, kit.recordings)
    job_id = kit.schedule("paused")
    worker = spawn_worker(
        database_url, tmp_path, JOBTRAIL_BATCH_SIZE="5", JOBTRAIL_WORKER_POLL_INTERVAL="0.1"
    )
    eventually(
        lambda: any(isinstance(e, Job.BatchDeleted) for e in events_of(services, job_id)),
        60,
        "the first batch",
    )
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr[-2000:]
    assert isinstance(events_of(services, job_id)[-1], Job.LeaseReleased)
    assert kit.session_count("paused") > 0

    finisher = spawn_worker(database_url, tmp_path, "--once")
    _, stderr = finisher.communicate(timeout=90)
    assert finisher.returncode == 0, stderr[-2000:]
    assert isinstance(events_of(services, job_id)[-1], Job.Completed)
    assert kit.session_count("paused") == 0


def test_serve_runs_due_jobs_with_its_embedded_worker(database_url: str, tmp_path: Path) -> None:
    server = start_server(
        database_url,
        tmp_path,
        extra_env={"JOBTRAIL_DELETION_DELAY": "0", "JOBTRAIL_WORKER_POLL_INTERVAL": "0.1"},
    )
    try:
        built = build_services(Settings(database_url=database_url))
        try:
            project = built.tenancy.find_project(server.project_key)
            assert project is not None
            seed_sessions(
                built.database, project.id, ["leaving@example.com"], 40, tmp_path / "recordings"
            )
        finally:
            built.close()
        base = f"{server.base_url}/api/v1/{server.project_key}"
        auth = {"Authorization": server.api_key}
        before = httpx.get(f"{base}/users/leaving@example.com/sessions?limit=200", headers=auth)
        assert len(before.json()["data"]) == 40
        job = httpx.delete(f"{base}/users/leaving@example.com", headers=auth).json()["data"]
        job_reaches(
            "completed",
            f"{base}/jobs/{job['jobId']}",
            auth,
            30,
            "the embedded worker to complete the job",
        )
        after = httpx.get(f"{base}/users/leaving@example.com/sessions", headers=auth)
        assert after.json() == {"data": []}
        assert not any((tmp_path / "recordings" / str(project.id)).iterdir())
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)


def test_serve_with_no_worker_leaves_due_jobs_to_dedicated_workers(
    database_url: str, tmp_path: Path
) -> None:
    server = start_server(
        database_url,
        tmp_path,
        extra_env={"JOBTRAIL_DELETION_DELAY": "0", "JOBTRAIL_WORKER_POLL_INTERVAL": "0.1"},
        extra_args=("--no-worker",),
    )
    try:
        base = f"{server.base_url}/api/v1/{server.project_key}"
        auth = {"Authorization": server.api_key}
        job = httpx.delete(f"{base}/users/waiting@example.com", headers=auth).json()["data"]
        time.sleep(1.0)  # ten embedded-worker polls, were there one
        seen = httpx.get(f"{base}/jobs/{job['jobId']}", headers=auth).json()["data"]
        assert seen["status"] == "scheduled"
        finisher = spawn_worker(database_url, tmp_path, "--once")
        _, stderr = finisher.communicate(timeout=60)
        assert finisher.returncode == 0, stderr[-2000:]
        seen = httpx.get(f"{base}/jobs/{job['jobId']}", headers=auth).json()["data"]
        assert seen["status"] == "completed"
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)

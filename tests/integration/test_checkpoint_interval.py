"""The worker signs a checkpoint when its interval is due only if the log grew, and one
at once after every job it completes, on both backends.

The interval is measured by the worker's monotonic clock: these tests either make it
due at every pass (an interval of 0) and count passes, or step the clock by hand.
"""

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.composition import Services, build_services
from application.runner import RunResult
from infrastructure.log_tree import LogTree
from infrastructure.settings import Settings
from tests.certificates import new_key
from tests.scheduling import SchedulingCommands


class StopsAfter(threading.Event):
    """A stop signal that the worker's loop sets itself after ``passes`` passes."""

    def __init__(self, passes: int) -> None:
        super().__init__()
        self.passes_left = passes

    def arm(self, passes: int) -> None:
        self.clear()
        self.passes_left = passes

    def wait(self, timeout: float | None = None) -> bool:
        self.passes_left -= 1
        if self.passes_left <= 0:
            self.set()
        return self.is_set()


def tree_size(services: Services) -> int:
    return LogTree(services.database, services.log).size()


def signing_services(database_url: str, tmp_path: Path, interval: float) -> Services:
    new_key(tmp_path)
    return build_services(
        Settings(
            database_url=database_url,
            deletion_delay=timedelta(0),
            signing_key_file=str(tmp_path / "jobtrail.key"),
            checkpoint_interval=interval,
        )
    )


@pytest.fixture
def due_every_pass(database_url: str, tmp_path: Path) -> Iterator[Services]:
    built = signing_services(database_url, tmp_path, interval=0.0)
    yield built
    built.close()


@pytest.fixture
def due_hourly(database_url: str, tmp_path: Path) -> Iterator[Services]:
    built = signing_services(database_url, tmp_path, interval=3600.0)
    yield built
    built.close()


def run_passes(services: Services, passes: int) -> None:
    services.worker(StopsAfter(passes)).run_until_stopped(poll_interval=0.0)


def cancelled_job(services: Services, user: str) -> None:
    """A job that grows the log and leaves no work for the worker."""
    job_id = SchedulingCommands.of(services).schedule_user_deletion(1, user, "key:k").job.job_id
    services.commands.cancel(1, job_id, "key:k")


def test_a_log_that_does_not_grow_is_signed_once_however_often_the_interval_is_due(
    due_every_pass: Services,
) -> None:
    cancelled_job(due_every_pass, "ann@example.com")

    run_passes(due_every_pass, 5)

    signed = due_every_pass.checkpoints.all()
    assert [c.size for c in signed] == [tree_size(due_every_pass)]
    assert signed[0].size > 0


def test_a_log_that_grew_is_signed_at_the_next_due_interval(due_every_pass: Services) -> None:
    run_passes(due_every_pass, 3)
    cancelled_job(due_every_pass, "bob@example.com")

    run_passes(due_every_pass, 3)

    sizes = [c.size for c in due_every_pass.checkpoints.all()]
    assert sizes == [0, tree_size(due_every_pass)]
    assert sizes[-1] > 0


def test_a_completed_job_is_signed_at_once_whatever_the_interval(due_hourly: Services) -> None:
    worker = due_hourly.worker(threading.Event())
    SchedulingCommands.of(due_hourly).schedule_user_deletion(1, "cy@example.com", "key:k")

    assert worker.run_due_jobs() == {RunResult.COMPLETED: 1}

    [signed] = due_hourly.checkpoints.all()
    assert signed.size == tree_size(due_hourly) > 0


class StepClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def test_a_grown_log_waits_for_the_interval_before_it_is_signed(due_hourly: Services) -> None:
    clock, stopping = StepClock(), StopsAfter(1)
    worker = due_hourly.worker(stopping, monotonic=clock)
    worker.run_until_stopped(poll_interval=0.0)  # the first pass signs the log as it is
    cancelled_job(due_hourly, "dee@example.com")

    clock.seconds = 3599.0
    stopping.arm(1)
    worker.run_until_stopped(poll_interval=0.0)
    assert len(due_hourly.checkpoints.all()) == 1

    clock.seconds = 3600.0
    stopping.arm(1)
    worker.run_until_stopped(poll_interval=0.0)
    assert [c.size for c in due_hourly.checkpoints.all()] == [0, tree_size(due_hourly)]

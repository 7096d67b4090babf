"""Running one deletion job: start it, delete in batches, record, finish.

Workers never hold a lock for a job's duration. Starting is a command on the
aggregate, so when several workers reach for the same due job the event store's
optimistic concurrency lets exactly one of them start it.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Protocol, TypeVar

from application.commands import JobCommands
from application.errors import ConcurrencyConflict, JobNotFound
from application.ports import Clock, DueJob
from domain.errors import DomainError, NotTheOwner

log = logging.getLogger("jobtrail.runner")
T = TypeVar("T")


class TransientTargetError(Exception):
    """A target failed in a way that may pass (a dropped connection, a lock timeout)."""


class DeletionTarget(Protocol):
    @property
    def name(self) -> str: ...

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        """Deletes at most ``limit`` items of the user in the project.

        Returns how many were deleted, per target name; nothing deleted means done.
        """
        ...


class _Receipt:
    """Deletions done but not yet recorded in the log."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = time.monotonic()
        self.pending: dict[str, int] = {}

    def add(self, deleted: dict[str, int]) -> None:
        for target, count in deleted.items():
            self.pending[target] = self.pending.get(target, 0) + count

    def due(self) -> bool:
        return time.monotonic() - self._last >= self._interval

    def take(self) -> dict[str, int]:
        taken, self.pending = self.pending, {}
        self._last = time.monotonic()
        return taken


class RunResult(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RELEASED = "released"
    SKIPPED = "skipped"
    LOST = "lost"


@dataclass(frozen=True)
class RunnerSettings:
    worker_id: str
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = 1000
    retries: int = 5
    retry_backoff: float = 0.2
    record_interval: float = 0.0
    """Seconds between BatchDeleted events: 0 records every batch. Larger values
    make a job faster (fewer appends); a crash then under-counts at most that long."""


class JobRunner:
    def __init__(
        self,
        commands: JobCommands,
        targets: Sequence[DeletionTarget],
        clock: Clock,
        settings: RunnerSettings,
        stopping: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
        observe: Callable[[dict[str, int]], None] = lambda deleted: None,
    ) -> None:
        self._commands = commands
        self._targets = targets
        self._clock = clock
        self._settings = settings
        self._stopping = stopping or threading.Event()
        self._sleep = sleep
        self._observe = observe

    @property
    def worker_id(self) -> str:
        return self._settings.worker_id

    def run(self, due: DueJob) -> RunResult:
        if not self._claim(due):
            return RunResult.SKIPPED
        receipt = _Receipt(self._settings.record_interval)
        try:
            return self._delete_everything(due, receipt)
        except NotTheOwner:
            log.warning("job %s was taken over from %s", due.job_id, self.worker_id)
            return RunResult.LOST
        except Exception as error:
            log.warning("job %s failed: %s", due.job_id, error)
            return self._fail(due, error, receipt)

    def _claim(self, due: DueJob) -> bool:
        me = self.worker_id
        try:
            self._commands.start(due.job_id, me, self._lease_until())
            return True
        except (DomainError, JobNotFound, ConcurrencyConflict):
            pass
        try:
            # Not scheduled: perhaps running under a lease that has expired.
            self._commands.take_over(due.job_id, me, self._lease_until())
            return True
        except (DomainError, JobNotFound, ConcurrencyConflict):
            return False

    def _delete_everything(self, due: DueJob, receipt: "_Receipt") -> RunResult:
        me = self.worker_id
        for target in self._targets:
            while True:
                if self._stopping.is_set():
                    self._record(due, receipt)
                    self._commands.release(due.job_id, me)
                    return RunResult.RELEASED
                deleted = self._with_retries(
                    partial(
                        target.delete_batch, due.project_id, due.user_id, self._settings.batch_size
                    )
                )
                if not any(deleted.values()):
                    break
                receipt.add(deleted)
                self._observe(deleted)
                # Every batch looks for a cancel; the counts are recorded at least
                # every record_interval, and always before the worker stops.
                cancelled = (
                    self._record(due, receipt)
                    if receipt.due()
                    else self._commands.was_cancelled(due.job_id)
                )
                if cancelled:
                    self._record(due, receipt)
                    return RunResult.CANCELLED
        self._record(due, receipt)
        try:
            self._commands.complete(due.job_id, me)
        except DomainError:
            # Cancelled after the last batch was recorded: cancelled it stays.
            return RunResult.CANCELLED
        return RunResult.COMPLETED

    def _record(self, due: DueJob, receipt: "_Receipt") -> bool:
        """Appends what was deleted since the last record; True if the job is cancelled."""
        if not receipt.pending:
            return False
        outcome = self._commands.record_batch(
            due.job_id, self.worker_id, receipt.take(), self._lease_until()
        )
        return outcome.job.status == "cancelled"

    def _fail(self, due: DueJob, error: Exception, receipt: "_Receipt") -> RunResult:
        try:
            self._record(due, receipt)  # what did get deleted before the error
        except Exception:
            log.exception("job %s: could not record its last deletions", due.job_id)
        try:
            self._commands.fail(due.job_id, self.worker_id, f"{type(error).__name__}: {error}")
        except DomainError:
            return RunResult.CANCELLED
        return RunResult.FAILED

    def _with_retries(self, action: Callable[[], T]) -> T:
        for attempt in range(self._settings.retries):
            try:
                return action()
            except TransientTargetError:
                if attempt == self._settings.retries - 1:
                    raise
                self._sleep(self._settings.retry_backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _lease_until(self) -> datetime:
        return self._clock.now() + self._settings.lease

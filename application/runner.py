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
from typing import TypeVar

from application.attempt import Attempt, LeaseLost, Receipt
from application.commands import JobCommands
from application.errors import ConcurrencyConflict, DamagedRecord, JobNotFound
from application.job_records import DueJob
from application.leases import LeaseKeeper
from application.outcome import Outcome
from application.ports import BatchInterrupted, Clock, DeletionTarget, TransientTargetError
from domain.errors import DomainError, IllegalTransition, NotTheOwner
from domain.lifecycle import JobStatus
from domain.redaction import without_user_id
from domain.request import is_forgotten

log = logging.getLogger("jobtrail.runner")
T = TypeVar("T")


class UserUnknown(Exception):
    """A job that no longer says whose data it deletes cannot delete anything."""


class RunResult(StrEnum):
    """How one run of a job ended: the job's status where it ended one."""

    COMPLETED = JobStatus.COMPLETED.value
    FAILED = JobStatus.FAILED.value
    CANCELLED = JobStatus.CANCELLED.value
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
    verify_rounds: int = 3
    """Passes over every target before a job that still finds data of the user fails."""


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
        claim = self._claim(due)
        if claim is None:
            return RunResult.SKIPPED
        # Whose data: as the aggregate says, which the read model only follows.
        due = DueJob(due.job_id, due.project_id, claim.job.reference_id)
        attempt = Attempt(due, claim.attempt, Receipt(self._settings.record_interval))
        log.info("job %s started by %s (attempt %s)", due.job_id, self.worker_id, claim.attempt)
        keeper = LeaseKeeper(
            self._commands,
            due.job_id,
            self.worker_id,
            claim.attempt,
            self._settings.lease,
            self._clock,
            self._lease_until(),
        )
        with keeper:
            attempt.keeper = keeper
            try:
                result = self._delete_everything(attempt)
            except (NotTheOwner, LeaseLost) as lost:
                log.warning("job %s: %s stops: %s", due.job_id, self.worker_id, lost)
                self._account_for_lost(attempt)
                return RunResult.LOST
            except Exception as error:
                # Kept for good (the Failed event, the read model, the log), where
                # forgetting the user cannot reach it: written without the user's id
                # in any encoding, once, and that one text is logged and recorded.
                failure: str | None = without_user_id(
                    f"{type(error).__name__}: {error}", due.user_id
                )
            else:
                failure = None
            if failure is not None:
                # Out of the except clause: an error while recording the failure must
                # not carry the first as its context (a logged traceback shows it).
                log.warning("job %s failed: %s", due.job_id, failure)
                return self._fail(attempt, failure)
        log.info("job %s %s", due.job_id, result)
        return result

    def _claim(self, due: DueJob) -> Outcome | None:
        try:
            return self._start_or_take_over(due)
        except DamagedRecord as damaged:
            log.error("job %s cannot be run: %s", due.job_id, damaged)
            return None

    def _start_or_take_over(self, due: DueJob) -> Outcome | None:
        me = self.worker_id
        try:
            return self._commands.start(due.job_id, me, self._lease_until())
        except (DomainError, JobNotFound, ConcurrencyConflict):
            pass
        try:
            # Not scheduled: perhaps running under a lease that has expired.
            return self._commands.take_over(due.job_id, me, self._lease_until())
        except (DomainError, JobNotFound, ConcurrencyConflict):
            return None

    def _delete_everything(self, attempt: "Attempt") -> RunResult:
        due = attempt.due
        if is_forgotten(due.user_id):
            raise UserUnknown(
                "the job's user id cannot be read (its data key is destroyed): nothing was deleted"
            )
        for _ in range(self._settings.verify_rounds):
            for target in self._targets:
                stopped = self._empty(target, attempt)
                if stopped is not None:
                    return stopped
            # Nothing is trusted to be gone until each target says so.
            remaining = self._remaining(due)
            if not any(remaining.values()):
                self._record(attempt)
                try:
                    self._commands.complete(due.job_id, self.worker_id, attempt.number, remaining)
                except IllegalTransition:
                    return RunResult.CANCELLED  # cancelled after the last batch
                return RunResult.COMPLETED
            attempt.remaining = remaining
        left = ", ".join(f"{name}: {count}" for name, count in remaining.items() if count)
        raise DataRemains(
            f"the user's data remains after {self._settings.verify_rounds} passes ({left})"
        )

    def _empty(self, target: DeletionTarget, attempt: "Attempt") -> RunResult | None:
        """Deletes the user's data in one target, batch by batch; a result if the
        job stopped on the way (released or cancelled), None once nothing is left."""
        due = attempt.due
        while True:
            if self._stopping.is_set():
                self._record(attempt)
                self._commands.release(due.job_id, self.worker_id, attempt.number)
                return RunResult.RELEASED
            attempt.require_lease()
            deleted = self._with_retries(
                partial(
                    target.delete_batch, due.project_id, due.user_id, self._settings.batch_size
                ),
                attempt,
            )
            if not any(deleted.values()):
                return None
            attempt.count(deleted, target.counts_exactly)
            self._observe(deleted)
            # Every batch looks for a cancel; the counts are recorded at least
            # every record_interval, and always before the worker stops.
            cancelled = (
                self._record(attempt)
                if attempt.receipt.due()
                else self._commands.was_cancelled(due.job_id)
            )
            if cancelled:
                self._record(attempt)
                return RunResult.CANCELLED

    def _remaining(self, due: DueJob) -> dict[str, int]:
        remaining: dict[str, int] = {}
        for target in self._targets:
            remaining.update(
                self._with_retries(partial(target.remaining, due.project_id, due.user_id))
            )
        return remaining

    def _record(self, attempt: "Attempt") -> bool:
        """Appends what was deleted since the last record; True if the job is cancelled."""
        pending = attempt.receipt.pending
        if not pending:
            return False
        lease_until = self._lease_until()
        outcome = self._commands.record_batch(
            attempt.due.job_id,
            self.worker_id,
            attempt.number,
            dict(pending),
            lease_until,
            attempt.receipt.number,
        )
        attempt.receipt.clear()
        attempt.keeper_confirms(lease_until)
        return JobStatus(outcome.job.status) is JobStatus.CANCELLED

    def _account_for_lost(self, attempt: "Attempt") -> None:
        """The attempt lost the job, but what it deleted is gone: count it."""
        pending = attempt.receipt.pending
        if not pending:
            return
        try:
            self._commands.record_batch(
                attempt.due.job_id,
                self.worker_id,
                attempt.number,
                dict(pending),
                self._lease_until(),
                attempt.receipt.number,
            )
        except NotTheOwner:
            # Taken over: the rows are gone all the same. What a target without locks
            # reported after the lease ran out may be what the worker that took over
            # deleted and counted: kept apart (ADR 33).
            receipt = attempt.receipt
            self._commands.account_late(
                attempt.due.job_id, self.worker_id, receipt.confirmed(), receipt.after_the_lease
            )
        except IllegalTransition:
            # Ended meanwhile, still this worker's job: nobody else deleted anything.
            self._commands.account_late(attempt.due.job_id, self.worker_id, dict(pending))
        except Exception:
            log.exception("job %s: could not record its last deletions", attempt.due.job_id)
            return
        attempt.receipt.clear()

    def _fail(self, attempt: "Attempt", failure: str) -> RunResult:
        """Records the failure (its text already without the user's id)."""
        due = attempt.due
        try:
            self._record(attempt)  # what did get deleted before the error
        except NotTheOwner:
            self._account_for_lost(attempt)
            return RunResult.LOST
        except Exception:
            log.exception("job %s: could not record its last deletions", due.job_id)
        try:
            self._commands.fail(
                due.job_id,
                self.worker_id,
                attempt.number,
                failure,
                attempt.remaining,
            )
        except NotTheOwner:
            return RunResult.LOST
        except DomainError:
            return RunResult.CANCELLED
        return RunResult.FAILED

    def _with_retries(self, action: Callable[[], T], attempt: "Attempt | None" = None) -> T:
        """Runs ``action``, retrying transient target errors with backoff. What a failed
        batch removed for good before it failed is counted in ``attempt`` all the same:
        not exactly, whatever the target, since the failure may have let go of the rows'
        locks (files removed before the rows' transaction failed)."""
        for retry in range(self._settings.retries):
            try:
                return action()
            except BatchInterrupted as interrupted:
                if attempt is not None:
                    attempt.count(interrupted.deleted, exactly=False)
                    self._observe(interrupted.deleted)
                error: Exception = interrupted.cause
            except TransientTargetError as transient:
                error = transient
            if not isinstance(error, TransientTargetError) or retry == self._settings.retries - 1:
                raise error
            self._sleep(self._settings.retry_backoff * 2**retry)
        raise AssertionError("unreachable")

    def _lease_until(self) -> datetime:
        return self._clock.now() + self._settings.lease


class DataRemains(Exception):
    """A target still holds the user's data after every pass: the job fails, naming it."""

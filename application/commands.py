"""The commands that change jobs. Each loads fresh state, decides, and appends.

Optimistic concurrency decides between racing commands: the loser's append
conflicts on the aggregate's next version, and the command is retried against
the state that won (a bounded number of times).
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from eventsourcing.persistence import RecordConflictError

from application.errors import ConcurrencyConflict, JobNotFound
from application.event_log import JobLog
from application.ports import Clock, JobIdAllocator
from application.scheduling import deletion_start
from application.views import JobView, epoch_ms
from domain.job import Job
from domain.user_deletions import UserDeletions, user_deletions_id

T = TypeVar("T")
MAX_ATTEMPTS = 8


def job_view(job: Job) -> JobView:
    return JobView(
        job_id=job.job_id,
        description=job.description,
        status=str(job.status),
        project_id=job.project_id,
        action=job.action,
        reference_id=job.reference_id,
        created_at=epoch_ms(job.created_on),
        updated_at=epoch_ms(job.modified_on),
        start_at=epoch_ms(job.start_at),
        errors=job.error,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    job: JobView
    position: int | None
    """Where the command's last event sits in the log; None when nothing was written."""


def retry_on_conflict(command: Callable[[], T]) -> T:
    for attempt in range(MAX_ATTEMPTS):
        try:
            return command()
        except RecordConflictError:
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise ConcurrencyConflict("The job kept changing; try again.")


class JobCommands:
    def __init__(
        self,
        log: JobLog,
        job_ids: JobIdAllocator,
        clock: Clock,
        deletion_delay: timedelta | None,
        after_write: Callable[[int], None] = lambda position: None,
    ) -> None:
        self._log = log
        self._job_ids = job_ids
        self._clock = clock
        self._deletion_delay = deletion_delay
        self._after_write = after_write

    def schedule_user_deletion(self, project_id: int, user_id: str, actor: str) -> Outcome:
        return self._written(retry_on_conflict(lambda: self._schedule(project_id, user_id, actor)))

    def cancel(self, project_id: int, job_id: int, actor: str) -> Outcome:
        def attempt(job: Job) -> None:
            job.cancel(actor=actor, at=self._clock.now())

        return self._change(job_id, attempt, project_id)

    def start(self, job_id: int, actor: str, lease_until: datetime | None = None) -> Outcome:
        def attempt(job: Job) -> None:
            job.start(actor=actor, at=self._clock.now(), lease_until=lease_until)

        return self._change(job_id, attempt)

    def take_over(self, job_id: int, actor: str, lease_until: datetime) -> Outcome:
        def attempt(job: Job) -> None:
            job.take_over(actor=actor, at=self._clock.now(), lease_until=lease_until)

        return self._change(job_id, attempt)

    def record_batch(
        self, job_id: int, actor: str, deleted: dict[str, int], lease_until: datetime
    ) -> Outcome:
        def attempt(job: Job) -> None:
            job.record_batch(
                actor=actor, deleted=deleted, at=self._clock.now(), lease_until=lease_until
            )

        return self._change(job_id, attempt)

    def release(self, job_id: int, actor: str) -> Outcome:
        return self._change(job_id, lambda job: job.release(actor=actor, at=self._clock.now()))

    def complete(self, job_id: int, actor: str) -> Outcome:
        return self._change(job_id, lambda job: job.complete(actor=actor, at=self._clock.now()))

    def fail(self, job_id: int, actor: str, error: str) -> Outcome:
        return self._change(
            job_id, lambda job: job.fail(actor=actor, error=error, at=self._clock.now())
        )

    def _schedule(self, project_id: int, user_id: str, actor: str) -> Outcome:
        now = self._clock.now()
        ledger = self._log.aggregate_or_none(user_deletions_id(project_id, user_id))
        if ledger is not None and ledger.latest_job_id is not None:
            active = self._log.job(ledger.latest_job_id)
            if active is not None and active.status.is_active:
                return Outcome(job_view(active), None)
        job = Job.schedule_user_deletion(
            job_id=self._job_ids.next_job_id(),
            project_id=project_id,
            user_id=user_id,
            start_at=deletion_start(now, self._deletion_delay),
            actor=actor,
            at=now,
        )
        if ledger is None:
            ledger = UserDeletions.open(project_id=project_id, user_id=user_id, at=now)
        ledger.assign(job.job_id, at=now)
        recordings = self._log.save(job, ledger)
        return Outcome(job_view(job), recordings[-1].notification.id)

    def _change(
        self, job_id: int, decide: Callable[[Job], None], project_id: int | None = None
    ) -> Outcome:
        def attempt() -> Outcome:
            job = self._log.job(job_id)
            if job is None or (project_id is not None and job.project_id != project_id):
                raise JobNotFound(job_id)
            decide(job)
            recordings = self._log.save(job)
            return Outcome(job_view(job), recordings[-1].notification.id)

        return self._written(retry_on_conflict(attempt))

    def _written(self, outcome: Outcome) -> Outcome:
        if outcome.position is not None:
            self._after_write(outcome.position)
        return outcome

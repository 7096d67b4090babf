"""The commands that change jobs. Each loads fresh state, decides, and appends.

Optimistic concurrency decides between racing commands: the loser's append
conflicts on the aggregate's next version, and the command is retried against
the state that won (a bounded number of times).
"""

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from application.batching import Batcher
from application.errors import ConcurrencyConflict, DamagedRecord, JobNotFound
from application.event_log import JobLog
from application.job_records import JobView, job_view
from application.ports import Clock, JobIdAllocator
from application.scheduling import deletion_start
from domain.deadline import ONE_MONTH, Period
from domain.errors import DomainError
from domain.job import Job
from domain.remains import RemainsPlace
from domain.request import validate_user_id
from domain.user_deletions import UserDeletions, legacy_user_deletions_id, user_deletions_id

T = TypeVar("T")
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    project_id: int
    user_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class Outcome:
    job: JobView
    position: int | None
    """How far the read model must reach to include the answer: where the command's
    last event sits in the log, or the log's head when an existing job is returned;
    None when there is nothing to wait for."""
    attempt: int = 0
    """The job's attempt after the command: a worker that started or took over the
    job holds this attempt, and names it in every later command (the fence)."""


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
        response_period: Period = ONE_MONTH,
    ) -> None:
        self._log = log
        self._response_period = response_period  # JOBTRAIL_RESPONSE_DEADLINE
        self._job_ids = job_ids
        self._clock = clock
        self._deletion_delay = deletion_delay
        self._after_write = after_write
        self._scheduling: Batcher[ScheduleRequest, Outcome] = Batcher(self._schedule_batch)

    def schedule_user_deletion(self, project_id: int, user_id: str, actor: str) -> Outcome:
        # Concurrent requests share one append (group commit). Each then waits for the
        # read model on its own, while the next batch is appended.
        return self._written(self._scheduling.submit(ScheduleRequest(project_id, user_id, actor)))

    def cancel(self, project_id: int, job_id: int, actor: str) -> Outcome:
        def attempt(job: Job) -> None:
            job.cancel(actor=actor, at=self._clock.now())

        return self.change(job_id, attempt, project_id)

    def start(self, job_id: int, actor: str, lease_until: datetime | None = None) -> Outcome:
        def attempt(job: Job) -> None:
            job.start(actor=actor, at=self._clock.now(), lease_until=lease_until)

        return self.change(job_id, attempt)

    def take_over(self, job_id: int, actor: str, lease_until: datetime) -> Outcome:
        def attempt(job: Job) -> None:
            job.take_over(actor=actor, at=self._clock.now(), lease_until=lease_until)

        return self.change(job_id, attempt)

    def renew_lease(self, job_id: int, actor: str, attempt: int, lease_until: datetime) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.renew_lease(
                actor=actor, attempt=attempt, at=self._clock.now(), lease_until=lease_until
            ),
        )

    def record_batch(
        self, job_id: int, actor: str, attempt: int, deleted: dict[str, int], lease_until: datetime
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.record_batch(
                actor=actor,
                attempt=attempt,
                deleted=deleted,
                at=self._clock.now(),
                lease_until=lease_until,
            ),
        )

    def account_late(self, job_id: int, actor: str, deleted: dict[str, int]) -> Outcome:
        return self.change(
            job_id, lambda job: job.account_late(actor=actor, deleted=deleted, at=self._clock.now())
        )

    def record_remains_search(
        self, job_id: int, actor: str, places: Sequence[RemainsPlace], searched: dict[str, int]
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.record_remains_search(
                actor=actor, at=self._clock.now(), places=places, searched=searched
            ),
        )

    def was_cancelled(self, job_id: int) -> bool:
        """Whether the job's last event is a cancel, from the log (the read model may lag)."""
        return self._log.latest_event_type(job_id) == Job.Cancelled.__name__

    def release(self, job_id: int, actor: str, attempt: int) -> Outcome:
        return self.change(
            job_id, lambda job: job.release(actor=actor, attempt=attempt, at=self._clock.now())
        )

    def complete(
        self, job_id: int, actor: str, attempt: int, remaining: dict[str, int] | None = None
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.complete(
                actor=actor, attempt=attempt, at=self._clock.now(), remaining=remaining or {}
            ),
        )

    def fail(
        self,
        job_id: int,
        actor: str,
        attempt: int,
        error: str,
        remaining: dict[str, int] | None = None,
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.fail(
                actor=actor,
                attempt=attempt,
                error=error,
                at=self._clock.now(),
                remaining=remaining,
            ),
        )

    def _schedule_batch(self, requests: Sequence[ScheduleRequest]) -> list[Outcome | Exception]:
        try:
            return self._schedule_together(requests)
        except RecordConflictError:
            # Another process touched one of these users meanwhile: one by one, each
            # against fresh state.
            return [self._schedule_alone(request) for request in requests]

    def _schedule_alone(self, request: ScheduleRequest) -> Outcome | Exception:
        try:
            return retry_on_conflict(lambda: self._schedule_together([request])[0])
        except Exception as error:
            return error

    def _schedule_together(self, requests: Sequence[ScheduleRequest]) -> list[Outcome | Exception]:
        """One append for the whole batch: each user's active job is returned as is,
        and a user named twice in the batch gets one new job."""
        now = self._clock.now()
        outcomes: list[Outcome | Exception | None] = [None] * len(requests)
        ledger_of: list[UUID | None] = [None] * len(requests)
        chosen: dict[UUID, Job | None] = {}  # a user's job: active already, or new (None)
        new_for: dict[UUID, tuple[ScheduleRequest, str]] = {}
        subjects: list[str] = [""] * len(requests)
        for index, request in enumerate(requests):
            try:
                validate_user_id(request.user_id)
            except DomainError as error:
                outcomes[index] = error
                continue
            # The log knows the user only by this keyed hash (ADR 18).
            subjects[index] = self._log.subject_of(request.project_id, request.user_id)
            ledger_of[index] = user_deletions_id(subjects[index])
        ledgers = self._log.aggregates_or_none({i for i in ledger_of if i is not None})
        for index, request in enumerate(requests):
            ledger_id, subject = ledger_of[index], subjects[index]
            if ledger_id is not None and ledger_id not in chosen:
                ledger = ledgers[ledger_id]
                active = self._active_job(ledger)
                if ledger is None:
                    active = self._active_job_before_sealing(request)
                chosen[ledger_id] = active
                if active is None:
                    new_for[ledger_id] = (request, subject)
        job_ids = self._job_ids.next_job_ids(len(new_for))
        start_at = deletion_start(now, self._deletion_delay)
        changed: list[Job | UserDeletions] = []
        for (ledger_id, (request, subject)), job_id in zip(new_for.items(), job_ids, strict=True):
            ledger = ledgers[ledger_id] or UserDeletions.open(
                project_id=request.project_id, subject=subject, at=now
            )
            job = Job.schedule_user_deletion(
                job_id=job_id,
                project_id=request.project_id,
                user_id=request.user_id,
                subject=subject,
                key_generation=ledger.key_generation,
                start_at=start_at,
                actor=request.actor,
                at=now,
                response_period=self._response_period,
            )
            ledger.assign(job_id, at=now)
            chosen[ledger_id] = job
            changed += [job, ledger]
        position = self._log.save(*changed)[-1].notification.id if changed else None
        if len(new_for) < len(chosen):
            # A job returned as it was found may have been written a moment ago by
            # another request, and not be in the read model yet: its answer waits for
            # the log as far as it was read (ids commit in order), like a new job's.
            position = max(position or 0, self._log.head())
        for index, of in enumerate(ledger_of):
            if of is not None:
                answer = chosen[of]
                assert answer is not None
                outcomes[index] = Outcome(job_view(answer), position)
        return [outcome for outcome in outcomes if outcome is not None]

    def _active_job(self, ledger: UserDeletions | None) -> Job | None:
        if ledger is None or ledger.latest_job_id is None:
            return None
        try:
            job = self._log.job(ledger.latest_job_id)
        except DamagedRecord:
            # A job nobody can read cannot hold the user's one active deletion
            # forever: a new request makes a new job (ADR 17).
            return None
        return job if job is not None and job.status.is_active else None

    def _active_job_before_sealing(self, request: ScheduleRequest) -> Job | None:
        """A job requested before users were named by subjects may still be active:
        its ledger is where that version kept it, by the user id (ADR 18)."""
        if not self._log.may_hold_clear_ledgers():
            return None
        return self._active_job(
            self._log.aggregate_or_none(
                legacy_user_deletions_id(request.project_id, request.user_id)
            )
        )

    def change(
        self, job_id: int, decide: Callable[[Job], None], project_id: int | None = None
    ) -> Outcome:
        """Loads the job, lets ``decide`` command it, and appends what it did: retried
        against fresh state when another writer won (the use cases beside this class
        command jobs through it too)."""

        def attempt() -> Outcome:
            job = self._log.job(job_id)
            if job is None or (project_id is not None and job.project_id != project_id):
                raise JobNotFound(job_id)
            decide(job)
            recordings = self._log.save(job)
            return Outcome(job_view(job), recordings[-1].notification.id, job.attempts)

        return self._written(retry_on_conflict(attempt))

    def _written(self, outcome: Outcome) -> Outcome:
        if outcome.position is not None:
            self._after_write(outcome.position)
        return outcome

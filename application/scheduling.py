"""Scheduling a user's deletion: the use case behind ``DELETE .../users/{userId}``.

A user has at most one active deletion. Their ledger (UserDeletions) names their
latest job: while it is active, a request returns it as it is; otherwise a new job
is scheduled and assigned to the ledger. Requests are decided a batch at a time,
in one append (concurrent callers' requests reach it together through the group
commit, infrastructure/group_commit.py).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from application.errors import DamagedRecord
from application.event_log import JobLog
from application.job_records import job_view
from application.outcome import Outcome, retry_on_conflict
from application.ports import Answer, Clock, JobIdAllocator, Request
from domain.deadline import Period
from domain.errors import DomainError
from domain.job import Job
from domain.request import validate_user_id
from domain.user_deletions import UserDeletions, legacy_user_deletions_id, user_deletions_id


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    project_id: int
    user_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class _User:
    subject: str
    """The log knows the user only by this keyed hash (ADR 18)."""
    ledger_id: UUID


def one_at_a_time(
    decide: Callable[[Sequence[Request]], Sequence[Answer | Exception]],
) -> Callable[[Request], Answer]:
    """Each request decided alone, as a batch of one (the port Together without a
    group commit: for commands no client waits on, and tests)."""

    def alone(request: Request) -> Answer:
        (answer,) = decide([request])
        if isinstance(answer, Exception):
            raise answer
        return answer

    return alone


class Scheduling:
    def __init__(
        self,
        log: JobLog,
        job_ids: JobIdAllocator,
        clock: Clock,
        deletion_delay: timedelta | None,
        response_period: Period,
    ) -> None:
        self._log = log
        self._job_ids = job_ids
        self._clock = clock
        self._deletion_delay = deletion_delay
        self._response_period = response_period

    def schedule(self, requests: Sequence[ScheduleRequest]) -> list[Outcome | Exception]:
        """An answer per request, in order: its user's job, or why there is none."""
        try:
            return self._decide_together(requests)
        except RecordConflictError:
            # Another process touched one of these users meanwhile: one by one, each
            # against fresh state.
            return [self._decide_alone(request) for request in requests]

    def _decide_alone(self, request: ScheduleRequest) -> Outcome | Exception:
        try:
            return retry_on_conflict(lambda: self._decide_together([request])[0])
        except Exception as error:
            return error

    def _decide_together(self, requests: Sequence[ScheduleRequest]) -> list[Outcome | Exception]:
        """One append for the whole batch: each user's active job is returned as is,
        and a user named twice in the batch gets one new job."""
        now = self._clock.now()
        users = [self._user(request) for request in requests]
        ledgers = self._log.aggregates_or_none({u.ledger_id for u in users if isinstance(u, _User)})
        jobs: dict[UUID, Job] = {}  # each user's answer by ledger: active, or new
        wanting: dict[UUID, tuple[ScheduleRequest, str]] = {}  # the users with none
        for request, user in zip(requests, users, strict=True):
            if isinstance(user, _User) and not (
                user.ledger_id in jobs or user.ledger_id in wanting
            ):
                active = self._active_job(ledgers[user.ledger_id], request)
                if active is None:
                    wanting[user.ledger_id] = (request, user.subject)
                else:
                    jobs[user.ledger_id] = active
        found_any = bool(jobs)
        changed: list[Job | UserDeletions] = []
        job_ids = self._job_ids.next_job_ids(len(wanting))
        start_at = deletion_start(now, self._deletion_delay)
        for (ledger_id, (request, subject)), job_id in zip(wanting.items(), job_ids, strict=True):
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
            jobs[ledger_id] = job
            changed += [job, ledger]
        position = self._log.save(*changed)[-1].notification.id if changed else None
        if found_any:
            # A job returned as it was found may have been written a moment ago by
            # another request, and not be in the read model yet: its answer waits for
            # the log as far as it was read (ids commit in order), like a new job's.
            position = max(position or 0, self._log.head())
        return [
            Outcome(job_view(jobs[user.ledger_id]), position) if isinstance(user, _User) else user
            for user in users
        ]

    def _user(self, request: ScheduleRequest) -> _User | DomainError:
        try:
            validate_user_id(request.user_id)
        except DomainError as error:
            return error
        subject = self._log.subject_of(request.project_id, request.user_id)
        return _User(subject, user_deletions_id(subject))

    def _active_job(self, ledger: UserDeletions | None, request: ScheduleRequest) -> Job | None:
        """The job the user's ledger names last, if it is still active."""
        if ledger is None:
            ledger = self._ledger_before_sealing(request)
        if ledger is None or ledger.latest_job_id is None:
            return None
        try:
            job = self._log.job(ledger.latest_job_id)
        except DamagedRecord:
            # A job nobody can read cannot hold the user's one active deletion
            # forever: a new request makes a new job (ADR 17).
            return None
        return job if job is not None and job.status.is_active else None

    def _ledger_before_sealing(self, request: ScheduleRequest) -> UserDeletions | None:
        """A job requested before users were named by subjects may still be active:
        its ledger is where that version kept it, by the user id (ADR 18)."""
        if not self._log.may_hold_clear_ledgers():
            return None
        ledger: UserDeletions | None = self._log.aggregate_or_none(
            legacy_user_deletions_id(request.project_id, request.user_id)
        )
        return ledger


def deletion_start(now: datetime, delay: timedelta | None) -> datetime:
    """The next UTC midnight, as OpenReplay does, unless the operator set a delay."""
    if delay is not None:
        return now + delay
    tomorrow = now.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=now.tzinfo)

"""Scheduling a user's deletion: the use case behind ``DELETE .../users/{userId}``.

A user has at most one active deletion. Their ledger (UserDeletions) names their
latest job: while it is active, a request returns it as it is; otherwise a new job
is scheduled and assigned to the ledger. Requests are decided a batch at a time,
in one append: the HTTP app's concurrent requests reach it together (a group
commit on its event loop, infrastructure/group_commit.py), a tool's one by one.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from application.errors import ConcurrencyConflict, DamagedRecord
from application.job_records import job_view
from application.outcome import KEPT_CHANGING, MAX_ATTEMPTS, Outcome, pause_before
from application.ports import Clock, SchedulingStore, UserNames
from domain.deadline import Period
from domain.errors import DomainError
from domain.job import Job, job_aggregate_id
from domain.request import validate_user_id
from domain.user_deletions import UserDeletions, legacy_user_deletions_id, user_deletions_id


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    project_id: int
    user_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class _User:
    request: ScheduleRequest
    subject: str
    """The log knows the user only by this keyed hash (ADR 18)."""
    ledger_id: UUID


class Scheduling:
    def __init__(
        self,
        store: SchedulingStore,
        names: UserNames,
        clock: Clock,
        deletion_delay: timedelta | None,
        response_period: Period,
    ) -> None:
        self._store = store
        self._names = names
        self._clock = clock
        self._deletion_delay = deletion_delay
        self._response_period = response_period

    async def schedule(self, requests: Sequence[ScheduleRequest]) -> list[Outcome | Exception]:
        """An answer per request, in order: its user's job, or why there is none."""
        try:
            return await self._decide_together(requests)
        except RecordConflictError:
            pass
        # Another writer touched one of these users meanwhile (or a store that took
        # them to be new without reading was wrong): once more, against fresh state;
        # then one by one.
        try:
            return await self._decide_together(requests)
        except RecordConflictError:
            return [await self._decide_alone(request) for request in requests]

    async def _decide_alone(self, request: ScheduleRequest) -> Outcome | Exception:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return (await self._decide_together([request]))[0]
            except RecordConflictError:
                await asyncio.sleep(pause_before(attempt))
            except Exception as error:
                return error
        return ConcurrencyConflict(KEPT_CHANGING)

    async def _decide_together(
        self, requests: Sequence[ScheduleRequest]
    ) -> list[Outcome | Exception]:
        """One append for the whole batch: each user's active job is returned as is,
        and a user named twice in the batch gets one new job."""
        now = self._clock.now()
        users = [self._user(request) for request in requests]
        named = {user.ledger_id: user for user in users if isinstance(user, _User)}
        ledgers = await self._store.aggregates(
            named, subjects={user.subject for user in named.values()}
        )
        older = await self._ledgers_before_sealing(named, ledgers)
        for ledger_id, ledger in older.items():
            if isinstance(ledger, DamagedRecord):
                ledgers[ledger_id] = ledger  # refused, as a damaged ledger of today is
        active = await self._active_jobs({**ledgers, **older})
        answers: dict[UUID, Job | DamagedRecord] = {}  # by ledger: active, new, or damaged
        changed: list[Job | UserDeletions] = []
        wanting = [user for user in named.values() if user.ledger_id not in active]
        job_ids = await self._store.new_job_ids(
            sum(not isinstance(ledgers[user.ledger_id], DamagedRecord) for user in wanting)
        )
        start_at = deletion_start(now, self._deletion_delay)
        for user in wanting:
            ledger = ledgers[user.ledger_id]
            if isinstance(ledger, DamagedRecord):
                answers[user.ledger_id] = ledger
                continue
            request = user.request
            ledger = ledger or UserDeletions.open(
                project_id=request.project_id, subject=user.subject, at=now
            )
            job = Job.schedule_user_deletion(
                job_id=job_ids.pop(0),
                project_id=request.project_id,
                user_id=request.user_id,
                subject=user.subject,
                key_generation=ledger.key_generation,
                start_at=start_at,
                actor=request.actor,
                at=now,
                response_period=self._response_period,
            )
            ledger.assign(job.job_id, at=now)
            answers[user.ledger_id] = job
            changed += [job, ledger]
        answers.update(active)
        position = await self._store.append(changed, shown=list(active.values()))
        outcomes: list[Outcome | Exception] = []
        for asked in users:
            answer = answers[asked.ledger_id] if isinstance(asked, _User) else asked
            outcomes.append(
                Outcome(job_view(answer), position) if isinstance(answer, Job) else answer
            )
        return outcomes

    def _user(self, request: ScheduleRequest) -> _User | DomainError:
        try:
            validate_user_id(request.user_id)
        except DomainError as error:
            return error
        subject = self._names.subject_of(request.project_id, request.user_id)
        return _User(request, subject, user_deletions_id(subject))

    async def _active_jobs(self, ledgers: dict[UUID, object]) -> dict[UUID, Job]:
        """Each user's job that their ledger names last, where it is still active."""
        latest = {
            ledger_id: ledger.latest_job_id
            for ledger_id, ledger in ledgers.items()
            if isinstance(ledger, UserDeletions) and ledger.latest_job_id is not None
        }
        jobs = await self._store.aggregates({job_aggregate_id(i) for i in latest.values()})
        active = {}
        for ledger_id, job_id in latest.items():
            job = jobs[job_aggregate_id(job_id)]
            # A job nobody can read (a DamagedRecord) cannot hold the user's one active
            # deletion forever: a new request makes a new job (ADR 17).
            if isinstance(job, Job) and job.status.is_active:
                active[ledger_id] = job
        return active

    async def _ledgers_before_sealing(
        self, users: dict[UUID, _User], ledgers: dict[UUID, object]
    ) -> dict[UUID, object]:
        """A job requested before users were named by subjects may still be active:
        its ledger is where that version kept it, by the user id (ADR 18). By the
        ledger each user has today, for those who have none yet."""
        if not self._names.may_hold_clear_ledgers():
            return {}
        legacy = {
            legacy_user_deletions_id(user.request.project_id, user.request.user_id): ledger_id
            for ledger_id, user in users.items()
            if ledgers[ledger_id] is None
        }
        older = await self._store.aggregates(legacy)
        return {legacy[legacy_id]: ledger for legacy_id, ledger in older.items() if ledger}


def deletion_start(now: datetime, delay: timedelta | None) -> datetime:
    """The next UTC midnight, as OpenReplay does, unless the operator set a delay."""
    if delay is not None:
        return now + delay
    tomorrow = now.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=now.tzinfo)

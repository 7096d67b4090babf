"""The Job aggregate: a user-data deletion request and its lifecycle.

scheduled -> running -> completed | failed, and scheduled | running -> cancelled.
Every change is an event; the event's ``timestamp`` comes from the caller's clock.

A running job is owned by one attempt of one worker under a lease, which the
worker's heartbeat renews. When the lease expires (the worker died or stalled),
another worker may take the job over, and from then on the old attempt is fenced
off: it can steer the job no more. Deleted counts are recorded batch by batch, so
the receipt never claims a deletion that did not happen; a batch that finished
just after a cancel, or just after the job was taken over, is still counted.
"""

from collections.abc import Sequence
from datetime import datetime

from eventsourcing.domain import Aggregate

from domain import job_events
from domain.deadline import ONE_MONTH, Period, extended_deadline
from domain.errors import (
    DeletionIncomplete,
    IllegalTransition,
    InvalidJobRequest,
    JobNotCancellable,
    LeaseHeld,
    NotTheOwner,
)
from domain.lifecycle import JobStatus, add_deletions, is_due, lease_expired
from domain.remains import RemainsPlace, RemainsSearch
from domain.request import DELETE_USER_DATA as DELETE_USER_DATA
from domain.request import deletion_description, is_forgotten, validate_user_id
from domain.request import job_aggregate_id as job_aggregate_id


class Job(Aggregate):
    # The events are written in domain.job_events; eventsourcing redefines each here
    # as Job.<Name>, so the topics in every stored log stay domain.job:Job.<Name>.
    Scheduled = job_events.Scheduled
    Started = job_events.Started
    TakenOver = job_events.TakenOver
    LeaseRenewed = job_events.LeaseRenewed
    BatchDeleted = job_events.BatchDeleted
    LateBatchDeleted = job_events.LateBatchDeleted
    LeaseReleased = job_events.LeaseReleased
    Cancelled = job_events.Cancelled
    Completed = job_events.Completed
    Failed = job_events.Failed
    PersonalDataForgotten = job_events.PersonalDataForgotten
    RemainsSearched = job_events.RemainsSearched
    DeadlineExtended = job_events.DeadlineExtended

    def __init__(
        self,
        job_id: int,
        project_id: int,
        action: str,
        reference_id: str,
        description: str,
        start_at: datetime,
        actor: str,
        respond_by: datetime,
        subject: str = "",
        key_generation: int = 0,
    ) -> None:
        self.job_id = job_id
        self.project_id = project_id
        self.action = action
        self.reference_id = reference_id
        self.description = description
        self.start_at = start_at
        self.respond_by = respond_by
        self.requested_by = actor
        self.subject = subject
        self.key_generation = key_generation
        self.status = JobStatus.SCHEDULED
        self.error: str | None = None
        self.owner: str | None = None
        self.lease_until: datetime | None = None
        self.attempts = 0
        self.former_owners: set[str] = set()
        self.deleted: dict[str, int] = {}
        self.records: dict[int, int] = {}
        """Per attempt, the number of its last numbered ``BatchDeleted``."""
        self.unconfirmed: dict[str, int] = {}
        """Deletions a worker reported after its lease had run out and the job was
        taken over: the worker that took it over may have counted the same items
        (see ``LateBatchDeleted``). The receipt is ``deleted``, and at most this more."""
        self.remains_searches: list[RemainsSearch] = []

    @classmethod
    def schedule_user_deletion(
        cls,
        *,
        job_id: int,
        project_id: int,
        user_id: str,
        subject: str,
        key_generation: int,
        start_at: datetime,
        actor: str,
        at: datetime,
        response_period: Period = ONE_MONTH,
    ) -> "Job":
        validate_user_id(user_id)
        if job_id <= 0:
            raise InvalidJobRequest("A job id must be a positive integer.")
        return cls._create(
            cls.Scheduled,
            id=job_aggregate_id(job_id),
            timestamp=at,
            job_id=job_id,
            project_id=project_id,
            action=DELETE_USER_DATA,
            reference_id=user_id,
            description=deletion_description(user_id),
            start_at=start_at,
            actor=actor,
            respond_by=response_period.after(at),
            subject=subject,
            key_generation=key_generation,
        )

    def start(self, *, actor: str, at: datetime, lease_until: datetime | None = None) -> None:
        self._require(JobStatus.SCHEDULED, "started")
        if not self.is_due(at):
            raise IllegalTransition(self.job_id, self.status, "started before its start time")
        self.trigger_event(self.Started, timestamp=at, actor=actor, lease_until=lease_until)

    def take_over(self, *, actor: str, at: datetime, lease_until: datetime) -> None:
        self._require(JobStatus.RUNNING, "taken over")
        if self.owner != actor and not self.lease_expired(at):
            raise LeaseHeld(self.job_id, self.owner or "another worker")
        self.trigger_event(
            self.TakenOver,
            timestamp=at,
            actor=actor,
            previous_owner=self.owner or "",
            lease_until=lease_until,
        )

    def renew_lease(self, *, actor: str, attempt: int, at: datetime, lease_until: datetime) -> None:
        self._require(JobStatus.RUNNING, "given a longer lease")
        self._require_holder(actor, attempt)
        self.trigger_event(self.LeaseRenewed, timestamp=at, actor=actor, lease_until=lease_until)

    def record_batch(
        self,
        *,
        actor: str,
        attempt: int,
        deleted: dict[str, int],
        at: datetime,
        lease_until: datetime,
        record: int | None = None,
    ) -> None:
        """``record``: the attempt's number for this record; a number the job holds
        already for the attempt is a record sent again (its commit's answer was lost),
        and changes nothing, also once the job has been taken over since."""
        if record is not None and record <= self.records.get(attempt, 0):
            return
        self._require_holder(actor, attempt)
        # A batch that finished after a cancel still happened: it is recorded.
        ran = self.status is JobStatus.RUNNING
        cancelled_while_running = self.status is JobStatus.CANCELLED and self.attempts > 0
        if not (ran or cancelled_while_running):
            raise IllegalTransition(self.job_id, self.status, "given deletions")
        self.trigger_event(
            self.BatchDeleted,
            timestamp=at,
            actor=actor,
            deleted=deleted,
            lease_until=lease_until,
            record=record,
        )

    def account_late(
        self,
        *,
        actor: str,
        deleted: dict[str, int],
        at: datetime,
        unconfirmed: dict[str, int] | None = None,
    ) -> None:
        """Counts what a worker deleted before it learned that it had lost the job, or
        that the job had ended (its own record of them failed, say, and then it failed
        the job): the data is gone, so the receipt must say so. ``unconfirmed``: what
        it reported deleted after its lease had run out (see ``LateBatchDeleted``)."""
        lost = actor in self.former_owners
        ended = self.status.is_terminal and actor == self.owner
        if not (lost or ended):
            raise NotTheOwner(self.job_id, actor, self.owner)
        self.trigger_event(
            self.LateBatchDeleted,
            timestamp=at,
            actor=actor,
            deleted=deleted,
            unconfirmed=unconfirmed or None,
        )

    def release(self, *, actor: str, attempt: int, at: datetime) -> None:
        self._require(JobStatus.RUNNING, "released")
        self._require_holder(actor, attempt)
        self.trigger_event(self.LeaseReleased, timestamp=at, actor=actor)

    def cancel(self, *, actor: str, at: datetime) -> None:
        if not self.status.is_cancellable:
            raise JobNotCancellable(self.job_id, self.status)
        self.trigger_event(self.Cancelled, timestamp=at, actor=actor)

    def complete(
        self, *, actor: str, attempt: int, at: datetime, remaining: dict[str, int]
    ) -> None:
        """Completes the job once every target says nothing of the user remains; the
        receipt names every target checked, with 0 where there was nothing."""
        self._require(JobStatus.RUNNING, "completed")
        self._require_holder(actor, attempt)
        left = {target: count for target, count in remaining.items() if count}
        if left:
            raise DeletionIncomplete(self.job_id, left)
        receipt = dict.fromkeys(remaining, 0)
        add_deletions(receipt, self.deleted)
        self.trigger_event(
            self.Completed, timestamp=at, actor=actor, deleted=receipt, remaining=dict(remaining)
        )

    def fail(
        self,
        *,
        actor: str,
        attempt: int,
        error: str,
        at: datetime,
        remaining: dict[str, int] | None = None,
    ) -> None:
        self._require(JobStatus.RUNNING, "failed")
        self._require_holder(actor, attempt)
        self.trigger_event(
            self.Failed,
            timestamp=at,
            actor=actor,
            error=error,
            deleted=dict(self.deleted),
            remaining=remaining,
        )

    def extend_response_deadline(
        self, *, actor: str, at: datetime, reason: str, until: datetime | None = None,
        by: Period | None = None,
    ) -> None:  # fmt: skip
        """Moves the response deadline later (to the latest the law allows unless
        ``until`` or ``by`` says), keeping the reason, sealed with the user's key."""
        respond_by = extended_deadline(
            self.status, self.created_on, self.respond_by, at=at, reason=reason, until=until,
            by=by, sealable=bool(self.subject) and not self.is_forgotten,
        )  # fmt: skip
        self.trigger_event(
            self.DeadlineExtended, timestamp=at, actor=actor, respond_by=respond_by,
            reason=reason.strip(), subject=self.subject, key_generation=self.key_generation,
        )  # fmt: skip

    def forget_personal_data(self, *, actor: str, at: datetime) -> None:
        if not self.status.is_terminal:
            raise IllegalTransition(self.job_id, self.status, "forgotten while it may still run")
        if self.is_forgotten:
            raise IllegalTransition(self.job_id, self.status, "forgotten twice")
        self.trigger_event(self.PersonalDataForgotten, timestamp=at, actor=actor)

    def record_remains_search(
        self,
        *,
        actor: str,
        at: datetime,
        places: Sequence[RemainsPlace],
        searched: dict[str, int],
    ) -> None:
        """Keeps what a search for the user's remains found, once the job has ended
        (before, whatever it found could still be deleted by the job)."""
        if not self.status.is_terminal:
            raise IllegalTransition(
                self.job_id, self.status, "given a search for remains while it may still delete"
            )
        self.trigger_event(
            self.RemainsSearched,
            timestamp=at,
            actor=actor,
            places=tuple(places),
            searched=dict(searched),
        )

    @property
    def is_forgotten(self) -> bool:
        """Whether the job no longer knows whose it is: forgotten, or its key is gone."""
        return is_forgotten(self.reference_id)

    def holds(self, actor: str, attempt: int) -> bool:
        """Whether ``actor``'s attempt ``attempt`` is the one that owns the job now."""
        return self.owner == actor and self.attempts == attempt

    def is_due(self, now: datetime) -> bool:
        return is_due(self.status, self.start_at, self.lease_until, now)

    def lease_expired(self, now: datetime) -> bool:
        return lease_expired(self.lease_until, now)

    def _require(self, status: JobStatus, command: str) -> None:
        if self.status is not status:
            raise IllegalTransition(self.job_id, self.status, command)

    def _require_holder(self, actor: str, attempt: int) -> None:
        # The fence: a worker whose attempt was taken over cannot steer the job again.
        if not self.holds(actor, attempt):
            raise NotTheOwner(self.job_id, actor, self.owner)


_TAKEN_ONLY_UNCANCELLED = frozenset(
    event.__name__
    for event in (
        Job.Scheduled,
        Job.Started,
        Job.TakenOver,
        Job.LeaseRenewed,
        Job.LeaseReleased,
        Job.DeadlineExtended,
        Job.BatchDeleted,
    )
)


def cancelled_after(latest_event: str | None) -> bool | None:
    """Whether a job is cancelled, where its last event's name alone says so: yes after
    ``Cancelled``; no after an event a cancelled job refuses (a ``BatchDeleted`` after
    a cancel is the record of the batch that ran across it, whose answer tells its
    attempt of the cancel). None after an event an ended job still takes (a search for
    remains, a lost attempt's account, forgetting): only its status can say."""
    if latest_event == Job.Cancelled.__name__:
        return True
    return False if latest_event in _TAKEN_ONLY_UNCANCELLED else None

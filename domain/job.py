"""The Job aggregate: a user-data deletion request and its lifecycle.

scheduled -> running -> completed | failed, and scheduled | running -> cancelled.
Every change is an event; the event's ``timestamp`` comes from the caller's clock.

A running job is owned by one worker under a lease. The worker extends the lease
with every batch it records; when the lease expires (the worker died), another
worker may take the job over. Deleted counts are recorded batch by batch, so the
receipt never claims a deletion that did not happen, and a batch that finished
just after a cancel is still recorded.
"""

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import (
    IllegalTransition,
    InvalidJobRequest,
    JobNotCancellable,
    LeaseHeld,
    NotTheOwner,
)

DELETE_USER_DATA = "delete_user_data"
MAX_REFERENCE_ID_LENGTH = 256
_JOB_NAMESPACE = uuid5(NAMESPACE_URL, "jobtrail:job")


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in (JobStatus.SCHEDULED, JobStatus.RUNNING)


def job_aggregate_id(job_id: int) -> UUID:
    """The aggregate id of a public job id: derived, so no lookup table is needed."""
    return uuid5(_JOB_NAMESPACE, str(job_id))


def deletion_description(user_id: str) -> str:
    return f"Delete user sessions of userId = {user_id}"


def validate_user_id(user_id: str) -> None:
    if not user_id:
        raise InvalidJobRequest("userId must not be empty.")
    if len(user_id) > MAX_REFERENCE_ID_LENGTH:
        raise InvalidJobRequest(f"userId must be at most {MAX_REFERENCE_ID_LENGTH} characters.")


class Job(Aggregate):
    class Scheduled(Aggregate.Created):
        job_id: int
        project_id: int
        action: str
        reference_id: str
        description: str
        start_at: datetime
        actor: str

    class Started(Aggregate.Event):
        actor: str
        lease_until: datetime | None = None

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.RUNNING
            job.owner = self.actor
            job.lease_until = self.lease_until
            job.attempts += 1

    class TakenOver(Aggregate.Event):
        """A worker took over a running job whose owner's lease had expired."""

        actor: str
        previous_owner: str
        lease_until: datetime

        def apply(self, job: "Job") -> None:
            job.owner = self.actor
            job.lease_until = self.lease_until
            job.attempts += 1

    class BatchDeleted(Aggregate.Event):
        """What one batch deleted, per target; it also extends the owner's lease."""

        actor: str
        deleted: dict[str, int]
        lease_until: datetime

        def apply(self, job: "Job") -> None:
            for target, count in self.deleted.items():
                job.deleted[target] = job.deleted.get(target, 0) + count
            if job.status is JobStatus.RUNNING:
                job.lease_until = self.lease_until

    class LeaseReleased(Aggregate.Event):
        """The owner stopped (for example on shutdown); any worker may resume the job."""

        actor: str

        def apply(self, job: "Job") -> None:
            job.lease_until = self.timestamp

    class Cancelled(Aggregate.Event):
        actor: str

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.CANCELLED
            job.lease_until = None

    class Completed(Aggregate.Event):
        actor: str
        deleted: dict[str, int] | None = None
        """The receipt: per target, how many rows or files this job deleted."""

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.COMPLETED
            job.lease_until = None

    class Failed(Aggregate.Event):
        actor: str
        error: str
        deleted: dict[str, int] | None = None

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.FAILED
            job.error = self.error
            job.lease_until = None

    def __init__(
        self,
        job_id: int,
        project_id: int,
        action: str,
        reference_id: str,
        description: str,
        start_at: datetime,
        actor: str,
    ) -> None:
        self.job_id = job_id
        self.project_id = project_id
        self.action = action
        self.reference_id = reference_id
        self.description = description
        self.start_at = start_at
        self.requested_by = actor
        self.status = JobStatus.SCHEDULED
        self.error: str | None = None
        self.owner: str | None = None
        self.lease_until: datetime | None = None
        self.attempts = 0
        self.deleted: dict[str, int] = {}

    @classmethod
    def schedule_user_deletion(
        cls,
        *,
        job_id: int,
        project_id: int,
        user_id: str,
        start_at: datetime,
        actor: str,
        at: datetime,
    ) -> "Job":
        if not user_id:
            raise InvalidJobRequest("userId must not be empty.")
        if len(user_id) > MAX_REFERENCE_ID_LENGTH:
            raise InvalidJobRequest(f"userId must be at most {MAX_REFERENCE_ID_LENGTH} characters.")
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
        )

    def start(self, *, actor: str, at: datetime, lease_until: datetime | None = None) -> None:
        self._require(JobStatus.SCHEDULED, "started")
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

    def record_batch(
        self, *, actor: str, deleted: dict[str, int], at: datetime, lease_until: datetime
    ) -> None:
        # A batch that finished after a cancel still happened: it is recorded.
        if self.status is JobStatus.CANCELLED and self.attempts == 0:
            raise IllegalTransition(self.job_id, self.status, "given deletions")
        if self.status not in (JobStatus.RUNNING, JobStatus.CANCELLED):
            raise IllegalTransition(self.job_id, self.status, "given deletions")
        self._require_owner(actor)
        self.trigger_event(
            self.BatchDeleted, timestamp=at, actor=actor, deleted=deleted, lease_until=lease_until
        )

    def release(self, *, actor: str, at: datetime) -> None:
        self._require(JobStatus.RUNNING, "released")
        self._require_owner(actor)
        self.trigger_event(self.LeaseReleased, timestamp=at, actor=actor)

    def cancel(self, *, actor: str, at: datetime) -> None:
        if not self.status.is_active:
            raise JobNotCancellable(self.job_id, self.status)
        self.trigger_event(self.Cancelled, timestamp=at, actor=actor)

    def complete(self, *, actor: str, at: datetime) -> None:
        self._require(JobStatus.RUNNING, "completed")
        self._require_owner(actor)
        self.trigger_event(self.Completed, timestamp=at, actor=actor, deleted=dict(self.deleted))

    def fail(self, *, actor: str, error: str, at: datetime) -> None:
        self._require(JobStatus.RUNNING, "failed")
        self._require_owner(actor)
        self.trigger_event(
            self.Failed, timestamp=at, actor=actor, error=error, deleted=dict(self.deleted)
        )

    def is_due(self, now: datetime) -> bool:
        return self.status is JobStatus.SCHEDULED and self.start_at <= now

    def lease_expired(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until <= now

    def _require(self, status: JobStatus, command: str) -> None:
        if self.status is not status:
            raise IllegalTransition(self.job_id, self.status, command)

    def _require_owner(self, actor: str) -> None:
        # A job started without a lease (by hand, in tests) has no owner to defend.
        if self.owner is not None and self.owner != actor:
            raise NotTheOwner(self.job_id, actor, self.owner)

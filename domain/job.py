"""The Job aggregate: a user-data deletion request and its lifecycle.

scheduled -> running -> completed | failed, and scheduled | running -> cancelled.
Every change is an event; the event's ``timestamp`` comes from the caller's clock.
"""

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidJobRequest, JobNotCancellable

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

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.RUNNING

    class Cancelled(Aggregate.Event):
        actor: str

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.CANCELLED

    class Completed(Aggregate.Event):
        actor: str

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.COMPLETED

    class Failed(Aggregate.Event):
        actor: str
        error: str

        def apply(self, job: "Job") -> None:
            job.status = JobStatus.FAILED
            job.error = self.error

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

    def start(self, *, actor: str, at: datetime) -> None:
        self._require(JobStatus.SCHEDULED, "started")
        self.trigger_event(self.Started, timestamp=at, actor=actor)

    def cancel(self, *, actor: str, at: datetime) -> None:
        if not self.status.is_active:
            raise JobNotCancellable(self.job_id, self.status)
        self.trigger_event(self.Cancelled, timestamp=at, actor=actor)

    def complete(self, *, actor: str, at: datetime) -> None:
        self._require(JobStatus.RUNNING, "completed")
        self.trigger_event(self.Completed, timestamp=at, actor=actor)

    def fail(self, *, actor: str, error: str, at: datetime) -> None:
        self._require(JobStatus.RUNNING, "failed")
        self.trigger_event(self.Failed, timestamp=at, actor=actor, error=error)

    def is_due(self, now: datetime) -> bool:
        return self.status is JobStatus.SCHEDULED and self.start_at <= now

    def _require(self, status: JobStatus, command: str) -> None:
        if self.status is not status:
            raise IllegalTransition(self.job_id, self.status, command)

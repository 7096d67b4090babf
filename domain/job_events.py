"""The events of a Job: what happened to a deletion job, and how each changes it.

Each event's ``apply`` is the one place its effect on a job's state is written. The
classes are named on ``Job`` (``domain.job``), where eventsourcing redefines each as
``Job.<Name>``: that is the topic stored with every event (``domain.job:Job.Started``),
and it stays the same whichever module the class body lives in.
"""

from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.deadline import upcast_scheduled_v1_v2
from domain.lifecycle import JobState, JobStatus, add_deletions
from domain.remains import RemainsPlace, RemainsSearch
from domain.request import FORGOTTEN_PERSONAL_DATA


class Scheduled(Aggregate.Created):
    class_version = 2
    """Version 2 records the response deadline; version 1 is upcast to the law's
    one month after the request (domain.deadline)."""
    upcast_v1_v2 = staticmethod(upcast_scheduled_v1_v2)

    job_id: int
    project_id: int
    action: str
    reference_id: str
    description: str
    start_at: datetime
    actor: str
    respond_by: datetime
    """The response deadline: the request must be answered by then (domain.deadline)."""
    subject: str = ""
    """The keyed hash of (project, user): whose job it is, without saying who."""
    key_generation: int = 0
    """Which of the subject's data keys seals the personal fields (a new one
    after each forgetting). Events from before sealing have neither."""

    personal_fields: ClassVar[tuple[str, ...]] = ("reference_id", "description")
    """Stored sealed with the subject's data key, so destroying the key forgets them."""


class Started(Aggregate.Event):
    actor: str
    lease_until: datetime | None = None

    def apply(self, job: JobState) -> None:
        job.status = JobStatus.RUNNING
        job.owner = self.actor
        job.lease_until = self.lease_until
        job.attempts += 1


class TakenOver(Aggregate.Event):
    """A worker took over a running job whose owner's lease had expired."""

    actor: str
    previous_owner: str
    lease_until: datetime

    def apply(self, job: JobState) -> None:
        if job.owner is not None:
            job.former_owners.add(job.owner)
        job.owner = self.actor
        job.lease_until = self.lease_until
        job.attempts += 1


class LeaseRenewed(Aggregate.Event):
    """The owner's heartbeat: it is alive and still working on the job."""

    actor: str
    lease_until: datetime

    def apply(self, job: JobState) -> None:
        job.lease_until = self.lease_until


class BatchDeleted(Aggregate.Event):
    """What one batch deleted, per target; it also extends the owner's lease.

    ``record``: the attempt's number for this record. A record sent again under the
    same number (its commit's answer was lost, and the worker recorded again before
    it failed the job) is not appended twice. Absent in records stored before."""

    actor: str
    deleted: dict[str, int]
    lease_until: datetime
    record: int | None = None

    def apply(self, job: JobState) -> None:
        add_deletions(job.deleted, self.deleted)
        if self.record is not None:
            job.records[job.attempts] = self.record
        if job.status is JobStatus.RUNNING:
            job.lease_until = self.lease_until


class LateBatchDeleted(Aggregate.Event):
    """What an attempt that has since lost the job deleted before it learned so.

    An account, not a command: it steers nothing (no lease, no status), but the
    rows are gone, so the receipt must count them.

    ``unconfirmed``: what the attempt's targets reported deleted in batches that
    ended after its lease had run out. Another worker may have taken the job over
    meanwhile and deleted and counted the same items: a target that holds no lock
    (an object store, ClickHouse) reports an item already gone as deleted, or
    counted it before deleting. Those counts are kept apart: the receipt is
    ``deleted``, and at most ``unconfirmed`` more."""

    actor: str
    deleted: dict[str, int]
    unconfirmed: dict[str, int] | None = None

    def apply(self, job: JobState) -> None:
        add_deletions(job.deleted, self.deleted)
        add_deletions(job.unconfirmed, self.unconfirmed or {})


class LeaseReleased(Aggregate.Event):
    """The owner stopped (for example on shutdown); any worker may resume the job."""

    actor: str

    def apply(self, job: JobState) -> None:
        job.lease_until = self.timestamp


class DeadlineExtended(Aggregate.Event):
    """An operator moved the response deadline later, as the law allows, and said
    why. The reason is free text: it may name the person, so it is sealed with the
    subject's data key like the user id, and forgetting the user forgets it too."""

    actor: str
    respond_by: datetime
    reason: str
    subject: str
    key_generation: int

    personal_fields: ClassVar[tuple[str, ...]] = ("reason",)

    def apply(self, job: JobState) -> None:
        job.respond_by = self.respond_by


class Cancelled(Aggregate.Event):
    actor: str

    def apply(self, job: JobState) -> None:
        job.status = JobStatus.CANCELLED
        job.lease_until = None


class Completed(Aggregate.Event):
    actor: str
    deleted: dict[str, int] | None = None
    """The receipt: per target, how many rows or files this job deleted."""
    remaining: dict[str, int] | None = None
    """Per target, what was left of the user when the job completed: zero each."""

    def apply(self, job: JobState) -> None:
        job.status = JobStatus.COMPLETED
        job.lease_until = None
        for target in self.deleted or {}:  # every target checked is on the receipt
            job.deleted.setdefault(target, 0)


class Failed(Aggregate.Event):
    actor: str
    error: str
    deleted: dict[str, int] | None = None
    remaining: dict[str, int] | None = None

    def apply(self, job: JobState) -> None:
        job.status = JobStatus.FAILED
        job.error = self.error
        job.lease_until = None


class Retention(Aggregate.Event):
    """An event of jobtrail's own keeping, not a step of the job's work: the job's
    times stay as its work left them (updatedAt included, issue 26: an OpenReplay
    client syncs by it, and an auditor reads when the job ended from it). The
    event keeps its own time, which history and audit prove show."""

    changes_job: ClassVar[bool] = False
    """Read by the projection, which then leaves the row's updatedAt alone."""

    def mutate(self, aggregate: Any) -> Any:
        modified_on = aggregate.modified_on
        job: Any = super().mutate(aggregate)
        job.modified_on = modified_on
        return job


class PersonalDataForgotten(Retention):
    """The user's data key was destroyed: the job keeps its times, statuses, actors
    and receipt, and no longer says whose it was."""

    actor: str

    def apply(self, job: JobState) -> None:
        job.reference_id = FORGOTTEN_PERSONAL_DATA["reference_id"]
        job.description = FORGOTTEN_PERSONAL_DATA["description"]


class RemainsSearched(Retention):
    """What ``jobtrail targets find`` found of the job's user after the job ended:
    each place by store, table, column or pattern and a count, never an id or a
    value. An account kept for the auditor, not a change of the job: its status and
    its updatedAt stay as they were (the read model's row moves to the new version
    only)."""

    actor: str
    places: tuple[RemainsPlace, ...]
    searched: dict[str, int]

    def apply(self, job: JobState) -> None:
        job.remains_searches.append(RemainsSearch(self.timestamp, self.places, self.searched))

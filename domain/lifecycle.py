"""The rules of a job's life, in one place: statuses, when a job is due, what a lease is.

The aggregate decides with them, its events apply them, and everything else (the
projection, the due query, the runner, the API and the dashboard) asks them
instead of comparing strings of its own.
"""

from collections.abc import Mapping
from datetime import datetime
from enum import Enum, StrEnum, auto
from types import MappingProxyType
from typing import Protocol

from domain.remains import RemainsSearch


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """Scheduled or running: the user's one active deletion."""
        return self in (JobStatus.SCHEDULED, JobStatus.RUNNING)

    @property
    def is_cancellable(self) -> bool:
        return self.is_active

    @property
    def is_terminal(self) -> bool:
        """No command changes the job any more (an account of deletions still may)."""
        return not self.is_active

    @property
    def may_still_delete(self) -> bool:
        """Whether a worker may still be deleting for the job (shown as "so far")."""
        return self is JobStatus.RUNNING or self is JobStatus.SCHEDULED


class DueAt(Enum):
    """The moment from which a job is due for a worker."""

    START = auto()  # a scheduled job: its start time
    LEASE_END = auto()  # a running job: the end of its lease (its worker stopped renewing)


DUE_WHEN: Mapping[JobStatus, DueAt] = MappingProxyType(
    {JobStatus.SCHEDULED: DueAt.START, JobStatus.RUNNING: DueAt.LEASE_END}
)
"""The statuses in which a job can be due, and from when: the aggregate's ``is_due``
and the read model's due query are both built from it."""


class JobState(Protocol):
    """What a job's events change: the aggregate has it, and so has the projection's
    row, so both are moved by the same ``apply`` of each event."""

    status: JobStatus
    owner: str | None
    lease_until: datetime | None
    attempts: int
    former_owners: set[str]
    deleted: dict[str, int]
    unconfirmed: dict[str, int]
    records: dict[int, int]
    error: str | None
    reference_id: str
    description: str
    respond_by: datetime
    remains_searches: list[RemainsSearch]


def is_due(
    status: JobStatus, start_at: datetime, lease_until: datetime | None, now: datetime
) -> bool:
    if status not in DUE_WHEN:
        return False
    moment = {DueAt.START: start_at, DueAt.LEASE_END: lease_until}[DUE_WHEN[status]]
    return moment is not None and moment <= now


def lease_expired(lease_until: datetime | None, now: datetime) -> bool:
    """A lease has expired once its end has passed; a job without one has none to expire."""
    return lease_until is not None and lease_until <= now


def add_deletions(receipt: dict[str, int], deleted: dict[str, int]) -> None:
    for target, count in deleted.items():
        receipt[target] = receipt.get(target, 0) + count

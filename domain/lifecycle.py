"""The rules of a job's life, in one place: statuses, when a job is due, what a lease is.

The aggregate decides with them, its events apply them, and everything else (the
projection, the due query, the runner, the API and the dashboard) asks them
instead of comparing strings of its own.
"""

from datetime import datetime
from enum import StrEnum
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


# A job is due for a worker when it is in the status and the time has passed:
# scheduled jobs once their start time comes, running ones once their lease ends.
# The aggregate's ``is_due`` and the read model's due query are both built from it.
DUE_WHEN: tuple[tuple[JobStatus, str], ...] = (
    (JobStatus.SCHEDULED, "start_at"),
    (JobStatus.RUNNING, "lease_until"),
)


class JobState(Protocol):
    """What a job's events change: the aggregate has it, and so has the projection's
    row, so both are moved by the same ``apply`` of each event."""

    status: JobStatus
    owner: str | None
    lease_until: datetime | None
    attempts: int
    former_owners: set[str]
    deleted: dict[str, int]
    error: str | None
    reference_id: str
    description: str
    respond_by: datetime
    remains_searches: list[RemainsSearch]


def is_due(status: JobStatus, times: dict[str, datetime | None], now: datetime) -> bool:
    for due_status, field in DUE_WHEN:
        moment = times[field]
        if status is due_status and moment is not None and moment <= now:
            return True
    return False


def lease_expired(lease_until: datetime | None, now: datetime) -> bool:
    """A lease has expired once its end has passed; a job without one has none to expire."""
    return lease_until is not None and lease_until <= now


def add_deletions(receipt: dict[str, int], deleted: dict[str, int]) -> None:
    for target, count in deleted.items():
        receipt[target] = receipt.get(target, 0) + count

"""What the use cases need from the outside world, as protocols."""

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from application.views import JobView


class Clock(Protocol):
    def now(self) -> datetime: ...


class JobIdAllocator(Protocol):
    def next_job_ids(self, count: int) -> list[int]:
        """``count`` positive integers never handed out before, in increasing order,
        each greater than every id handed out earlier."""
        ...


class JobRow(NamedTuple):
    """One job's row of the read model, fields in the table's column order: a store
    hands it to its driver as it is (a rebuild writes a million of them)."""

    job_id: int
    aggregate_id: str
    version: int
    project_id: int
    action: str
    reference_id: str
    description: str
    status: str
    errors: str | None
    created_at: int
    updated_at: int
    start_at: int
    lease_until: int | None

    def view(self) -> JobView:
        return JobView(
            job_id=self.job_id,
            description=self.description,
            status=self.status,
            project_id=self.project_id,
            action=self.action,
            reference_id=self.reference_id,
            created_at=self.created_at,
            updated_at=self.updated_at,
            start_at=self.start_at,
            errors=self.errors,
        )


@dataclass(frozen=True, slots=True)
class JobChange:
    """A job's row after one or more events: the columns events can change."""

    aggregate_id: str
    version: int
    updated_at: int
    lease_until: int | None
    status: str
    errors: str | None
    reference_id: str
    description: str


@dataclass(frozen=True, slots=True)
class Damage:
    """An event the projection could not decode: where, whose, and why."""

    position: int
    aggregate_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class DueJob:
    job_id: int
    project_id: int
    user_id: str


class ProjectionTransaction(Protocol):
    @property
    def position(self) -> int: ...

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        """The rows of these jobs as they stand, by aggregate id."""
        ...

    def insert_jobs(self, rows: Sequence[JobRow]) -> None: ...

    def update_jobs(self, changes: Sequence[JobChange]) -> None: ...

    def record_damage(self, damage: Sequence[Damage]) -> None:
        """Remembers undecodable events and marks their jobs' rows as damaged."""
        ...

    def advance(self, position: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ProjectionRecord:
    name: str
    position: int
    state: str
    error: str | None


class ProjectionStore(Protocol):
    def transaction(self, name: str) -> AbstractContextManager[ProjectionTransaction]:
        """One transaction that locks the projection's position against other appliers."""
        ...

    def position(self, name: str) -> int: ...

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        """The rows of these jobs in the table the projection writes, by aggregate id."""
        ...

    def mark(self, name: str, state: str, error: str | None) -> None:
        """Records whether the projection is live or stopped, and why."""
        ...

    def records(self) -> list[ProjectionRecord]: ...


class Leadership(Protocol):
    """The right to apply a projection in the background; one holder at a time."""

    def try_acquire(self) -> bool: ...

    def wait_for_events(self, timeout: float) -> bool:
        """True as soon as new events may have been appended; False after ``timeout``."""
        ...

    def release(self) -> None: ...


class JobsReadModel(Protocol):
    def get(self, project_id: int, job_id: int) -> JobView | None: ...

    def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        offset: int,
        user_prefix: str | None = None,
    ) -> list[JobView]: ...

    def stream(self, project_id: int, status: str | None) -> Iterator[list[JobView]]:
        """Every matching job, newest first, in batches, without holding them all."""
        ...

    def due(self, now_ms: int, limit: int) -> list[DueJob]:
        """Scheduled jobs whose start has passed, and running jobs whose lease expired."""
        ...

    def forgettable(self, ended_by_ms: int, after_job_id: int, limit: int) -> list[int]:
        """Ids of terminal jobs, last changed by ``ended_by_ms``, whose user is not yet
        forgotten, above ``after_job_id`` in order: candidates, the domain decides."""
        ...


class DataKeys(Protocol):
    """The data keys that seal users' personal data (ADR 18)."""

    def destroy(self, refs: Collection[tuple[str, int]]) -> int:
        """Destroys keys (subject, generation); returns how many there were."""
        ...

    def keys_created_before(self, cutoff_ms: int, limit: int) -> list[tuple[str, int]]: ...

    def scrub(self) -> None:
        """Leaves no copy of destroyed rows in the database's own files."""
        ...


class TransientTargetError(Exception):
    """A target failed in a way that may pass (a dropped connection, a lock timeout)."""


class DeletionTarget(Protocol):
    """Where a user's data lives. Every statement a target runs is confined to the
    user in the project: whatever its keys, it touches no one else's data."""

    @property
    def name(self) -> str: ...

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        """Deletes at most ``limit`` items of the user in the project.

        Returns how many were deleted, per receipt name; nothing deleted means done.
        """
        ...

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        """How many items of the user are still there, per receipt name (0 each when
        the target holds nothing of them)."""
        ...


class BatchInterrupted(Exception):
    """A batch failed part way, after some of it was already gone for good (files
    removed before the rows' transaction failed): those are counted all the same."""

    def __init__(self, deleted: dict[str, int], cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.deleted = deleted
        self.cause = cause

"""Every port: what the use cases need from the outside world, as protocols."""

from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from application.identities import Findings, Identities
from application.job_records import Damage, DueJob, JobRow, JobView
from application.tenants import (
    KeyRecord,
    Organization,
    Principal,
    Project,
    SourceProject,
    SourceTenant,
    StoredKey,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class JobIdAllocator(Protocol):
    def next_job_ids(self, count: int) -> list[int]:
        """``count`` positive integers never handed out before, in increasing order,
        each greater than every id handed out earlier."""
        ...


class UserNames(Protocol):
    """How the log names users (application.event_log.JobLog has these)."""

    def subject_of(self, project_id: int, user_id: str) -> str:
        """The keyed hash that names a user of a project in the log (ADR 18)."""
        ...

    def may_hold_clear_ledgers(self) -> bool:
        """Whether the log began before users were named by subjects (ADR 18)."""
        ...


class SchedulingStore(Protocol):
    """What scheduling reads and writes, awaited: the log's aggregates, job ids, and
    one append per batch (infrastructure/scheduling_stores.py)."""

    async def aggregates(
        self, aggregate_ids: Collection[UUID], subjects: Collection[str] = ()
    ) -> "dict[UUID, Any]":
        """Each aggregate as its events make it: None if it has none, a DamagedRecord
        if one cannot be read. ``subjects``: whose data keys its events are sealed
        with, if the caller knows. A store may answer None unread where it expects no
        events: an append built on a wrong None fails (RecordConflictError), and the
        store reads again."""
        ...

    async def new_job_ids(self, count: int) -> list[int]:
        """``count`` job ids never handed out before, increasing."""
        ...

    async def append(self, aggregates: Sequence[Any], shown: Sequence[Any]) -> int | None:
        """Appends the aggregates' pending events in one transaction: RecordConflictError
        if another writer appended to one of them first, and nothing is appended.
        Once it returns, the read model shows each job of ``shown`` at least as it is
        now, and the appended jobs. How far the read model had to reach for that
        (None: the store wrote their rows itself, or there was nothing to show)."""
        ...


class ProjectionTransaction(Protocol):
    @property
    def position(self) -> int: ...

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        """The rows of these jobs as they stand, by aggregate id."""
        ...

    def insert_jobs(self, rows: Sequence[JobRow]) -> None: ...

    def update_jobs(self, changes: Sequence[JobRow]) -> None: ...

    def record_damage(self, damage: Sequence[Damage]) -> None:
        """Remembers undecodable events and marks their jobs' rows as damaged."""
        ...

    def advance(self, position: int) -> int:
        """Moves the position to ``position``, and past the run of events after it
        whose rows were written with them, if one starts there: where it now stands."""
        ...


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

    def damage(self) -> list[Damage]:
        """Every event the projection met and could not decode, in log order."""
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
    """The read model as the worker and the tools read it, in their threads."""

    def get(self, project_id: int, job_id: int) -> JobView | None: ...

    def page(self, project_id: int, status: str | None, limit: int, offset: int) -> list[JobView]:
        """A page of the project's jobs, newest first, of any status or of one."""
        ...

    def every_job(self) -> Iterator[JobRow]:
        """Every job of every project, every column, by job id (for checks and audits)."""
        ...

    def due(self, now_ms: int, limit: int) -> list[DueJob]:
        """Scheduled jobs whose start has passed, and running jobs whose lease expired."""
        ...

    def owing_answers(self, project_id: int | None, due_by_ms: int, limit: int) -> list[JobView]:
        """Jobs neither completed nor cancelled, due by ``due_by_ms``, soonest first."""
        ...

    def forgettable(self, ended_by_ms: int, after_job_id: int, limit: int) -> list[int]:
        """Ids of terminal jobs, last changed by ``ended_by_ms``, whose user is not yet
        forgotten, above ``after_job_id`` in order: candidates, the domain decides."""
        ...

    def forget_in_unfinished_rebuild(self, job_ids: Collection[int]) -> None:
        """An interrupted rebuild keeps the rows it folded, to resume from them: the
        personal fields of these jobs, whose user was just forgotten, are forgotten
        there too, now, not when (if ever) it resumes."""
        ...


class AsyncReadModel(Protocol):
    """The read model as the API and the dashboard read it: awaited on the event loop,
    never in a thread of the request's own (ADR 28)."""

    async def get(self, project_id: int, job_id: int) -> JobView | None: ...

    async def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        offset: int,
        user_prefix: str | None = None,
    ) -> list[JobView]: ...

    def stream(self, project_id: int, status: str | None) -> AsyncIterator[list[JobView]]:
        """Every matching job, newest first, in batches, without holding them all."""
        ...

    async def owing_answers(
        self, project_id: int | None, due_by_ms: int, limit: int
    ) -> list[JobView]: ...


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

    @property
    def counts_exactly(self) -> bool:
        """Whether a batch counts only what it deleted itself, even while another
        worker deletes the same person's data (a database's row locks make the second
        deleter wait, then find nothing): not so for a store that answers an item
        already gone as deleted (S3) or counts before it deletes (ClickHouse)."""
        ...

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        """Deletes at most ``limit`` items of the user in the project, and says how many
        per receipt name: nothing deleted means done."""
        ...

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        """How many items of the user are still there, per receipt name (0 each when
        the target holds nothing of them)."""
        ...


class RemainsSearcher(Protocol):
    """Every store the deletion targets name, searched for a person (``targets find``)."""

    def identities(self, project_id: int, user_id: str) -> Identities:
        """The person's ids in the project, from the sessions that are still there."""
        ...

    def search(self, project_id: int, identities: Identities) -> Findings:
        """Every place that still holds them; SearchFailed naming a store that could
        not be searched."""
        ...


class BatchInterrupted(Exception):
    """A batch failed part way, after some of it was already gone for good (files
    removed before the rows' transaction failed): those are counted all the same."""

    def __init__(self, deleted: dict[str, int], cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.deleted = deleted
        self.cause = cause


class TenancyStore(Protocol):
    def add_organization(self, name: str, is_default: bool) -> Organization: ...
    def default_organization(self) -> Organization | None: ...
    def organization(self, org_id: int) -> Organization | None: ...
    def organizations(self) -> list[Organization]: ...
    def projects(self, org_id: int | None) -> list[Project]: ...
    def add_project(self, org_id: int, name: str, project_key: str) -> Project: ...
    def project(self, project_id: int) -> Project | None: ...
    def project_by_key(self, project_key: str) -> Project | None: ...
    def first_project(self) -> Project | None: ...
    def add_key(self, key: StoredKey) -> None: ...
    def key(self, key_id: str) -> StoredKey | None: ...
    def list_keys(self, org_id: int | None) -> list[KeyRecord]: ...

    def end_key(self, key_id: str, revoked_at: int | None, expires_at: int | None) -> bool:
        """Sets when the key stops working; False if there is no such key."""
        ...

    def add_dashboard_login(self, login_id: str, principal: Principal, at: int) -> None: ...

    def end_dashboard_logins(self, at: int, login_id: str | None, key_id: str | None) -> None: ...
    def purge_dashboard_logins(self, older_than: int) -> None: ...
    def is_empty(self) -> bool: ...

    def importing(self) -> AbstractContextManager["TenancyImport"]:
        """One write transaction on the tenancy tables, that nobody else writes while
        it is open: committed when the block ends, rolled back if it raises."""
        ...


class Credentials(Protocol):
    """What requests read of the tenancy tables, awaited on the event loop: a key and
    a project (remembered a while), a dashboard login and an organization's projects;
    and a key's use, noted off the request's path
    (infrastructure/remembered_credentials.py)."""

    async def key(self, key_id: str) -> StoredKey | None: ...
    async def project(self, project_key: str) -> Project | None: ...

    async def dashboard_login(self, login_id: str) -> Principal | None:
        """The principal of a dashboard login not ended, whatever its key's state."""
        ...

    async def projects_of(self, org_id: int) -> list[Project]: ...
    def forget_key(self, key_id: str) -> None: ...
    def used(self, key_id: str, at: int) -> None: ...


class TenancyImport(Protocol):
    """The tenancy tables inside an import's transaction (see TenancyStore.importing)."""

    def default_organization(self) -> Organization | None: ...
    def organization_named(self, name: str) -> Organization | None: ...
    def add_organization(self, name: str) -> Organization: ...
    def key(self, key_id: str) -> StoredKey | None: ...
    def add_key(self, key: StoredKey) -> None: ...
    def keys_of(self, org_id: int) -> list[StoredKey]: ...

    def revoke_key(self, key_id: str, at: int) -> None:
        """Revokes the key and ends the dashboard logins made with it (epoch ms)."""
        ...

    def project(self, project_id: int) -> Project | None: ...
    def project_by_key(self, project_key: str) -> Project | None: ...
    def highest_project_id(self) -> int: ...

    def add_project(self, project: Project) -> None:
        """Adds a project with its own id; ids made later are higher."""
        ...

    def move_project(self, project_id: int, new_id: int) -> None: ...

    def in_use(self, org_id: int, keys_used_since: int, signed_in_since: int) -> bool:
        """A key of the organization was used since then (epoch ms), or a dashboard
        login of it opened since then is not ended."""
        ...


class OpenReplaySource(Protocol):
    def tenants(self) -> list[SourceTenant]: ...

    def live_projects(self) -> list[SourceProject]:
        """Projects not deleted (``deleted_at IS NULL``)."""
        ...

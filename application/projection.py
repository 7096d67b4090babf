"""The jobs projection: folds the log, in order, into the read model's jobs table.

The live projector and any rebuild use this same code. Each batch is applied in
one transaction together with the projection's new position, so an event is
applied exactly once however often the projector stops and resumes.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec

from application.errors import ProjectionStalled
from application.event_log import JobLog, LoggedEvent
from application.ports import JobChange, JobRow, ProjectionStore, ProjectionTransaction
from application.views import JobView, epoch_ms
from domain.job import Job, JobStatus
from domain.user_deletions import UserDeletions


class UnknownEvent(Exception):
    """The projection met an event it cannot apply: it stops rather than skip it."""


_STATUS_AFTER: dict[type, str | None] = {
    Job.Started: JobStatus.RUNNING.value,
    Job.Cancelled: JobStatus.CANCELLED.value,
    Job.Completed: JobStatus.COMPLETED.value,
    Job.Failed: JobStatus.FAILED.value,
    # These change when the job was last touched, not its status.
    Job.TakenOver: None,
    Job.BatchDeleted: None,
    Job.LeaseReleased: None,
}
_IGNORED = (UserDeletions.Opened, UserDeletions.JobAssigned)
_SCHEDULED = JobStatus.SCHEDULED.value


class _Pending:
    """One job's state within a batch, folded in place and built into a row once.

    It copies what it needs from each event (times stay datetimes until the row is
    built), so that no decoded event outlives its turn in the fold."""

    __slots__ = (
        "action", "created", "description", "errors", "job_id", "lease_until",
        "project_id", "reference_id", "start_at", "status", "updated", "version",
    )  # fmt: skip

    def __init__(self, scheduled: Job.Scheduled | None) -> None:
        self.status: str | None = None
        self.errors: str | None = None
        self.lease_until: datetime | None = None
        self.job_id: int | None = None
        if scheduled is not None:
            self.job_id = scheduled.job_id
            self.project_id = scheduled.project_id
            self.action = scheduled.action
            self.reference_id = scheduled.reference_id
            self.description = scheduled.description
            self.start_at = scheduled.start_at
            self.created = self.updated = scheduled.timestamp
            self.version = scheduled.originator_version
            self.status = _SCHEDULED

    def apply(self, event: Job.Event, status: str | None) -> None:
        self.version = event.originator_version
        self.updated = event.timestamp
        if isinstance(event, Job.LeaseReleased):
            self.lease_until = event.timestamp
        else:
            self.lease_until = getattr(event, "lease_until", None)
        if status is not None:
            self.status = status
        if isinstance(event, Job.Failed):
            self.errors = event.error


@dataclass(frozen=True, slots=True)
class FoldedBatch:
    """What a batch of events does to the read model: new rows and changed rows."""

    rows: list[JobRow]
    changes: list[JobChange]


class JobsProjection:
    name = "jobs"

    def apply(self, events: Iterable[LoggedEvent], tx: ProjectionTransaction) -> None:
        self.write(self.fold(events), tx)

    def fold(self, events: Iterable[LoggedEvent]) -> FoldedBatch:
        """Coalesces a batch: a job scheduled and changed in one batch becomes one
        new row in its final state; other jobs one change each, to their last state."""
        pending: dict[UUID, _Pending] = {}
        for logged in events:
            event = logged.event
            kind = type(event)
            if kind is Job.Scheduled:
                assert isinstance(event, Job.Scheduled)
                pending[event.originator_id] = _Pending(event)
            elif kind in _STATUS_AFTER:
                assert isinstance(event, Job.Event)
                state = pending.get(event.originator_id)
                if state is None:
                    state = pending[event.originator_id] = _Pending(None)
                state.apply(event, _STATUS_AFTER[kind])
            elif not isinstance(event, _IGNORED):
                raise UnknownEvent(
                    f"Projection {self.name!r} cannot apply {kind.__qualname__} "
                    f"at position {logged.position}."
                )
        return FoldedBatch(
            rows=[_row(key, s) for key, s in pending.items() if s.job_id is not None],
            changes=[_change(key, s) for key, s in pending.items() if s.job_id is None],
        )

    def write(self, batch: FoldedBatch, tx: ProjectionTransaction) -> None:
        tx.insert_jobs(batch.rows)
        tx.update_jobs(batch.changes)


def _row(aggregate_id: UUID, state: _Pending) -> JobRow:
    assert state.job_id is not None and state.status is not None
    return JobRow(
        state.job_id,
        str(aggregate_id),
        state.version,
        state.project_id,
        state.action,
        state.reference_id,
        state.description,
        state.status,
        state.errors,
        epoch_ms(state.created),
        epoch_ms(state.updated),
        epoch_ms(state.start_at),
        _lease_ms(state.lease_until),
    )


def _change(aggregate_id: UUID, state: _Pending) -> JobChange:
    return JobChange(
        aggregate_id=str(aggregate_id),
        version=state.version,
        updated_at=epoch_ms(state.updated),
        lease_until=_lease_ms(state.lease_until),
        status=state.status,
        errors=state.errors,
    )


def _lease_ms(lease_until: datetime | None) -> int | None:
    return None if lease_until is None else epoch_ms(lease_until)


def changed(view: JobView, change: JobChange) -> JobView:
    """A job's view after a change (None fields of the change keep their value)."""
    return msgspec.structs.replace(
        view,
        status=change.status or view.status,
        updated_at=change.updated_at,
        errors=change.errors or view.errors,
    )


class Projector:
    """Moves one projection forward through the log; safe to run in many processes.

    A ``sole_applier`` (a rebuild, which holds its projection's exclusive role)
    starts each batch where it left the last one instead of reading the position
    again; the position locked in the batch's transaction still decides."""

    def __init__(
        self,
        log: JobLog,
        store: ProjectionStore,
        projection: JobsProjection,
        batch_size: int = 1000,
        name: str | None = None,
        sole_applier: bool = False,
    ) -> None:
        self._log = log
        self._store = store
        self._projection = projection
        self._batch_size = batch_size
        self._name = name or projection.name
        self._sole_applier = sole_applier
        self._left_at: int | None = None

    @property
    def name(self) -> str:
        """The position this projector keeps (a rebuild keeps its own)."""
        return self._name

    def position(self) -> int:
        return self._store.position(self.name)

    def step(self) -> int:
        """Applies the next batch; returns how many events it applied."""
        return self._advance()[0]

    def _advance(self) -> tuple[int, int]:
        """Applies the next batch: (events applied, position reached)."""
        while True:
            position = self._left_at
            if position is None:
                position = self._store.position(self.name)
            # Read, decode and fold the batch before taking the position's lock:
            # holding a database write lock while waiting on the event store's
            # connections can deadlock (SQLite has one writer), and the lock is
            # held only while rows are written. If another applier moved first,
            # the fold is thrown away and the batch read again.
            page = self._log.page(after=position, limit=self._batch_size)
            if not page:
                return 0, position
            folded = self._projection.fold(page)
            with self._store.transaction(self.name) as tx:
                if tx.position != position:
                    self._left_at = None
                    continue
                self._projection.write(folded, tx)
                tx.advance(page.last_position)
            if self._sole_applier:
                self._left_at = page.last_position
            return len(page), page.last_position

    def catch_up(self) -> int:
        applied = 0
        while count := self.step():
            applied += count
        return applied

    def wait_for(self, position: int, timeout: float) -> None:
        """Returns once the read model includes the event at ``position``."""
        deadline = time.monotonic() + timeout
        while True:
            applied, reached = self._advance()
            if reached >= position:
                return
            if time.monotonic() > deadline:
                raise ProjectionStalled(
                    f"The read model has not reached position {position} in {timeout} s."
                )
            if not applied:
                time.sleep(0.001)

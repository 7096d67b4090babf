"""The jobs projection: folds the log, in order, into the read model's jobs table.

The live projector and any rebuild use this same code. Each batch is applied in
one transaction together with the projection's new position, so an event is
applied exactly once however often the projector stops and resumes.
"""

import time
from collections.abc import Sequence
from dataclasses import replace
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


_STATUS_AFTER: dict[type, JobStatus] = {
    Job.Started: JobStatus.RUNNING,
    Job.Cancelled: JobStatus.CANCELLED,
    Job.Completed: JobStatus.COMPLETED,
    Job.Failed: JobStatus.FAILED,
}
_KEEP_STATUS = (Job.TakenOver, Job.BatchDeleted, Job.LeaseReleased)
_IGNORED = (UserDeletions.Opened, UserDeletions.JobAssigned)


class JobsProjection:
    name = "jobs"

    def apply(self, events: Sequence[LoggedEvent], tx: ProjectionTransaction) -> None:
        # Coalesce the batch: a job scheduled and changed in one batch is inserted
        # once in its final state; other jobs get one update with their last state.
        inserts: dict[UUID, JobRow] = {}
        updates: dict[UUID, JobChange] = {}
        for logged in events:
            event = logged.event
            if isinstance(event, Job.Scheduled):
                inserts[event.originator_id] = _row(event)
            elif isinstance(event, Job.Event) and (
                type(event) in _STATUS_AFTER or isinstance(event, _KEEP_STATUS)
            ):
                change = _change(event)
                key = change.aggregate_id
                if key in inserts:
                    inserts[key] = _updated(inserts[key], change)
                else:
                    updates[key] = _merged(updates.get(key), change)
            elif not isinstance(event, _IGNORED):
                raise UnknownEvent(
                    f"Projection {self.name!r} cannot apply {type(event).__qualname__} "
                    f"at position {logged.position}."
                )
        tx.insert_jobs(list(inserts.values()))
        tx.update_jobs(list(updates.values()))


def _row(event: Job.Scheduled) -> JobRow:
    at = epoch_ms(event.timestamp)
    return JobRow(
        aggregate_id=event.originator_id,
        version=event.originator_version,
        lease_until=None,
        view=JobView(
            job_id=event.job_id,
            description=event.description,
            status=JobStatus.SCHEDULED.value,
            project_id=event.project_id,
            action=event.action,
            reference_id=event.reference_id,
            created_at=at,
            updated_at=at,
            start_at=epoch_ms(event.start_at),
            errors=None,
        ),
    )


def _lease_until(event: Job.Event) -> int | None:
    if isinstance(event, Job.LeaseReleased):
        return epoch_ms(event.timestamp)
    lease = getattr(event, "lease_until", None)
    return None if lease is None else epoch_ms(lease)


def _change(event: Job.Event) -> JobChange:
    status = _STATUS_AFTER.get(type(event))
    return JobChange(
        aggregate_id=event.originator_id,
        version=event.originator_version,
        updated_at=epoch_ms(event.timestamp),
        lease_until=_lease_until(event),
        status=None if status is None else status.value,
        errors=event.error if isinstance(event, Job.Failed) else None,
    )


def _merged(earlier: JobChange | None, later: JobChange) -> JobChange:
    if earlier is None:
        return later
    return replace(
        later,
        status=later.status or earlier.status,
        errors=later.errors or earlier.errors,
    )


def changed(view: JobView, change: JobChange) -> JobView:
    """A job's view after a change (None fields of the change keep their value)."""
    return msgspec.structs.replace(
        view,
        status=change.status or view.status,
        updated_at=change.updated_at,
        errors=change.errors or view.errors,
    )


def _updated(row: JobRow, change: JobChange) -> JobRow:
    return JobRow(
        aggregate_id=row.aggregate_id,
        version=change.version,
        lease_until=change.lease_until,
        view=changed(row.view, change),
    )


class Projector:
    """Moves one projection forward through the log; safe to run in many processes."""

    def __init__(
        self,
        log: JobLog,
        store: ProjectionStore,
        projection: JobsProjection,
        batch_size: int = 1000,
        name: str | None = None,
    ) -> None:
        self._log = log
        self._store = store
        self._projection = projection
        self._batch_size = batch_size
        self._name = name or projection.name

    @property
    def name(self) -> str:
        """The position this projector keeps (a rebuild keeps its own)."""
        return self._name

    def position(self) -> int:
        return self._store.position(self.name)

    def step(self) -> int:
        """Applies the next batch; returns how many events it applied."""
        while True:
            # Read the batch before taking the position's lock: holding a database
            # write lock while waiting on the event store's connections can deadlock
            # (SQLite has one writer). If another applier moved first, read again.
            position = self._store.position(self.name)
            batch = self._log.read(after=position, limit=self._batch_size)
            if not batch:
                return 0
            with self._store.transaction(self.name) as tx:
                if tx.position != position:
                    continue
                self._projection.apply(batch, tx)
                tx.advance(batch[-1].position)
                return len(batch)

    def catch_up(self) -> int:
        applied = 0
        while count := self.step():
            applied += count
        return applied

    def wait_for(self, position: int, timeout: float) -> None:
        """Returns once the read model includes the event at ``position``."""
        deadline = time.monotonic() + timeout
        while self.position() < position:
            if self.step() == 0:
                time.sleep(0.002)
            if time.monotonic() > deadline:
                raise ProjectionStalled(
                    f"The read model has not reached position {position} in {timeout} s."
                )

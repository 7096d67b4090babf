"""The jobs projection: folds the log, in order, into the read model's jobs table.

The live projector and any rebuild use this same code. Each batch is applied in
one transaction together with the projection's new position, so an event is
applied exactly once however often the projector stops and resumes.
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from application.event_log import LoggedEvent, Undecodable
from application.ports import ProjectionTransaction
from application.records import Damage, JobChange, JobRow
from application.views import epoch_ms
from domain import job_events
from domain.job import Job
from domain.lifecycle import JobStatus
from domain.remains import RemainsSearch
from domain.user_deletions import UserDeletions


class UnknownEvent(Exception):
    """The projection met an event it cannot apply: it stops rather than skip it."""


_JOB_EVENTS = frozenset(
    {
        Job.Started,
        Job.TakenOver,
        Job.LeaseRenewed,
        Job.BatchDeleted,
        Job.LateBatchDeleted,
        Job.LeaseReleased,
        Job.Cancelled,
        Job.Completed,
        Job.Failed,
        Job.PersonalDataForgotten,
        Job.RemainsSearched,
        Job.DeadlineExtended,
    }
)
_IGNORED = (UserDeletions.Opened, UserDeletions.JobAssigned, UserDeletions.Forgotten)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

KnownRows = Callable[[Collection[str]], Mapping[str, JobRow]]
"""The read model's rows of the given aggregate ids, as the projection left them."""


class _Pending:
    """One job's row within a batch, moved by the domain's own ``apply`` of each event
    (it has the state those methods change), and built into a row once.

    It copies what it needs from each event (times stay datetimes until the row is
    built), so that no decoded event outlives its turn in the fold."""

    __slots__ = (
        "action", "attempts", "created", "description", "error", "is_new", "job_id",
        "lease_until", "owner", "project_id", "reference_id", "respond_by", "start_at", "status",
        "updated", "version",
    )  # fmt: skip
    is_new: bool
    job_id: int
    project_id: int
    action: str
    reference_id: str
    description: str
    start_at: datetime
    created: datetime
    updated: datetime
    version: int
    status: JobStatus
    error: str | None
    lease_until: datetime | None
    respond_by: datetime

    def __init__(self) -> None:
        # What the domain's apply methods touch; only some of it becomes the row.
        self.owner: str | None = None
        self.attempts = 0

    # The read model keeps neither the receipt nor who owned the job before: events
    # may add to these, but a fresh container each time lets that go at once (a
    # container per job would be traced by the garbage collector all rebuild long).
    @property
    def deleted(self) -> dict[str, int]:
        return {}

    @property
    def former_owners(self) -> set[str]:
        return set()

    @property
    def remains_searches(self) -> list[RemainsSearch]:
        return []

    @classmethod
    def scheduled(cls, event: job_events.Scheduled) -> "_Pending":
        state = cls()
        state.is_new = True
        state.job_id = event.job_id
        state.project_id = event.project_id
        state.action = event.action
        state.reference_id = event.reference_id
        state.description = event.description
        state.start_at = event.start_at
        state.respond_by = event.respond_by
        state.created = state.updated = event.timestamp
        state.version = event.originator_version
        state.status = JobStatus.SCHEDULED
        state.error = None
        state.lease_until = None
        return state

    @classmethod
    def from_row(cls, row: JobRow) -> "_Pending":
        state = cls()
        state.is_new = False
        state.job_id = row.job_id
        state.reference_id = row.reference_id
        state.description = row.description
        state.status = JobStatus(row.status)
        state.error = row.errors
        state.lease_until = None if row.lease_until is None else _moment(row.lease_until)
        state.version = row.version
        state.updated = _moment(row.updated_at)
        state.respond_by = _moment(row.respond_by)
        return state

    def apply(self, event: Job.Event) -> None:
        event.apply(self)
        self.version = event.originator_version
        # An account that changes nothing of the job (RemainsSearched) moves the
        # row's version only: the job's updatedAt stays, as the aggregate's does.
        if getattr(event, "changes_job", True):
            self.updated = event.timestamp


@dataclass(frozen=True, slots=True)
class FoldedBatch:
    """What a batch of events does to the read model: new rows and changed rows."""

    rows: list[JobRow]
    changes: list[JobChange]
    damage: list[Damage]


class JobsProjection:
    name = "jobs"

    def apply(self, events: Iterable[LoggedEvent], tx: ProjectionTransaction) -> None:
        self.write(self.fold(events, tx.rows), tx)

    def fold(self, events: Iterable[LoggedEvent], known: KnownRows) -> FoldedBatch:
        """Coalesces a batch: a job scheduled and changed in one batch becomes one
        new row in its final state; other jobs one change each, to their last state.

        Events are applied by the domain's rules to the job's state as the read model
        holds it, so the row always says what the aggregate says."""
        pending: dict[UUID, _Pending] = {}
        waiting: list[tuple[int, Job.Event]] = []  # of jobs scheduled in an earlier batch
        damage: list[Damage] = []
        damaged: set[UUID] = set()
        for logged in events:
            event = logged.event
            kind = type(event)
            if isinstance(event, Undecodable) or event.originator_id in damaged:
                # Contained: recorded, and the rest of the log goes on.
                # The job keeps the row its readable events made; the row is marked.
                damaged.add(event.originator_id)
                damage.append(_damage(logged.position, event))
            elif kind is Job.Scheduled:
                assert isinstance(event, Job.Scheduled)
                pending[event.originator_id] = _Pending.scheduled(event)
            elif kind in _JOB_EVENTS:
                assert isinstance(event, Job.Event)
                state = pending.get(event.originator_id)
                if state is None:
                    waiting.append((logged.position, event))
                elif event.originator_version > state.version + 1:
                    damaged.add(event.originator_id)
                    damage.append(_gap(logged.position, event, state))
                else:
                    state.apply(event)
            elif not isinstance(event, _IGNORED):
                raise UnknownEvent(
                    f"Projection {self.name!r} cannot apply {kind.__qualname__} "
                    f"at position {logged.position}."
                )
        if waiting:
            self._fold_known(waiting, known, pending, damage)
        return FoldedBatch(
            rows=[_row(key, s) for key, s in pending.items() if s.is_new],
            changes=[_change(key, s) for key, s in pending.items() if not s.is_new],
            damage=damage,
        )

    @staticmethod
    def _fold_known(
        waiting: list[tuple[int, Job.Event]],
        known: KnownRows,
        pending: dict[UUID, _Pending],
        damage: list[Damage],
    ) -> None:
        # Only these jobs' earlier events were in earlier batches, and those events
        # cannot be in this one: applying them after the batch's new jobs keeps order.
        rows = known({str(event.originator_id) for _, event in waiting})
        out_of_sequence: set[UUID] = set()
        for position, event in waiting:
            state = pending.get(event.originator_id)
            if state is None:
                row = rows.get(str(event.originator_id))
                if row is None:
                    # Its Scheduled event could not be read: nothing to apply it to.
                    damage.append(_damage(position, event, "follows an event that is damaged"))
                    continue
                state = _Pending.from_row(row)
            if event.originator_id in out_of_sequence:
                damage.append(_damage(position, event))
            elif event.originator_version > state.version + 1:
                out_of_sequence.add(event.originator_id)
                damage.append(_gap(position, event, state))
            else:
                pending[event.originator_id] = state
                state.apply(event)

    def write(self, batch: FoldedBatch, tx: ProjectionTransaction) -> None:
        tx.insert_jobs(batch.rows)
        tx.update_jobs(batch.changes)
        tx.record_damage(batch.damage)


def _gap(position: int, event: Job.Event, state: _Pending) -> Damage:
    """An event past the next of its job: one before it is missing from the log (or
    was unreadable, in an earlier batch). The row stays as the events up to there
    made it, and is marked. (An event the row has already seen is no gap: a batch
    folded by a projector that another process overtook, which it then discards.)"""
    detail = f"follows event {state.version + 1}, which is missing or damaged"
    return _damage(position, event, detail)


def _damage(position: int, event: Any, detail: str | None = None) -> Damage:
    if detail is None:
        detail = (
            event.detail if isinstance(event, Undecodable) else "follows an event that is damaged"
        )
    return Damage(position, str(event.originator_id), detail)


def _moment(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _row(aggregate_id: UUID, state: _Pending) -> JobRow:
    return JobRow(
        state.job_id,
        str(aggregate_id),
        state.version,
        state.project_id,
        state.action,
        state.reference_id,
        state.description,
        state.status.value,
        state.error,
        epoch_ms(state.created),
        epoch_ms(state.updated),
        epoch_ms(state.start_at),
        _lease_ms(state.lease_until),
        epoch_ms(state.respond_by),
    )


def _change(aggregate_id: UUID, state: _Pending) -> JobChange:
    return JobChange(
        aggregate_id=str(aggregate_id),
        version=state.version,
        updated_at=epoch_ms(state.updated),
        lease_until=_lease_ms(state.lease_until),
        status=state.status.value,
        errors=state.error,
        reference_id=state.reference_id,
        description=state.description,
        respond_by=epoch_ms(state.respond_by),
    )


def _lease_ms(lease_until: datetime | None) -> int | None:
    return None if lease_until is None else epoch_ms(lease_until)


def changed(row: JobRow, change: JobChange) -> JobRow:
    """A job's row after a change: every column the change carries."""
    return row._replace(**{field.name: getattr(change, field.name) for field in fields(change)})

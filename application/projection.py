"""The jobs projection: folds the log, in order, into the read model's jobs table.

The live projector and any rebuild use this same code. Each batch is applied in
one transaction together with the projection's new position, so an event is
applied exactly once however often the projector stops and resumes.
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.epoch import moment_of
from application.event_log import LoggedEvent, Undecodable
from application.job_records import Damage, JobRow, job_row
from application.ports import ProjectionTransaction
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

KnownRows = Callable[[Collection[str]], Mapping[str, JobRow]]
"""The read model's rows of the given aggregate ids, as the projection left them."""


class _Pending:
    """One job's row within a batch, moved by the domain's own ``apply`` of each event
    (it has the state those methods change) and made a row once, by ``job_row``, as
    the aggregate is: its attributes are the aggregate's.

    It copies what it needs from each event (times stay datetimes until the row is
    made), so that no decoded event outlives its turn in the fold."""

    __slots__ = (
        "action", "attempts", "created_on", "description", "error", "id", "is_new", "job_id",
        "lease_until", "modified_on", "owner", "project_id", "reference_id", "respond_by",
        "start_at", "status", "version",
    )  # fmt: skip
    is_new: bool
    id: UUID
    job_id: int
    project_id: int
    action: str
    reference_id: str
    description: str
    start_at: datetime
    created_on: datetime
    modified_on: datetime
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
    def unconfirmed(self) -> dict[str, int]:
        return {}

    @property
    def records(self) -> dict[int, int]:
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
        state.id = event.originator_id
        state.job_id = event.job_id
        state.project_id = event.project_id
        state.action = event.action
        state.reference_id = event.reference_id
        state.description = event.description
        state.start_at = event.start_at
        state.respond_by = event.respond_by
        state.created_on = state.modified_on = event.timestamp
        state.version = event.originator_version
        state.status = JobStatus.SCHEDULED
        state.error = None
        state.lease_until = None
        return state

    @classmethod
    def from_row(cls, row: JobRow, aggregate_id: UUID) -> "_Pending":
        state = cls()
        state.is_new = False
        state.id = aggregate_id
        state.job_id = row.job_id
        state.project_id = row.project_id
        state.action = row.action
        state.reference_id = row.reference_id
        state.description = row.description
        state.start_at = moment_of(row.start_at)
        state.respond_by = moment_of(row.respond_by)
        state.created_on = moment_of(row.created_at)
        state.modified_on = moment_of(row.updated_at)
        state.version = row.version
        state.status = JobStatus(row.status)
        state.error = row.errors
        state.lease_until = None if row.lease_until is None else moment_of(row.lease_until)
        return state

    def apply(self, event: Job.Event) -> None:
        event.apply(self)
        self.version = event.originator_version
        # An account that changes nothing of the job (RemainsSearched) moves the
        # row's version only: the job's updatedAt stays, as the aggregate's does.
        if getattr(event, "changes_job", True):
            self.modified_on = event.timestamp


@dataclass(frozen=True, slots=True)
class FoldedBatch:
    """What a batch of events does to the read model: new rows, and the rows of jobs
    it has already, after the batch's events (of which ``EVENT_COLUMNS`` are written)."""

    rows: list[JobRow]
    changes: list[JobRow]
    damage: list[Damage]


class JobsProjection:
    name = "jobs"

    @staticmethod
    def only_schedules(events: Iterable[object]) -> bool:
        """Whether folding these events would only add the rows of the jobs they
        schedule, as those jobs are (``job_row``) after them: a writer that writes
        those rows itself has done the projection's work for them."""
        return all(type(event) is Job.Scheduled or isinstance(event, _IGNORED) for event in events)

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
            rows=[job_row(s) for s in pending.values() if s.is_new],
            changes=[job_row(s) for s in pending.values() if not s.is_new],
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
                state = _Pending.from_row(row, event.originator_id)
            if event.originator_id in out_of_sequence:
                damage.append(_damage(position, event))
            elif event.originator_version <= state.version:
                continue  # the row has it already: scheduling wrote it, inline
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

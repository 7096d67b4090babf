"""Rebuilding the jobs read model beside the live one, then swapping it in.

The rebuild folds the whole log, with the live projection's own code, into
``jobs_rebuild`` while the API keeps reading ``jobs``. Its position is committed
with every batch, so an interrupted rebuild resumes where it stopped. Once it has
caught up with the live projection, one transaction renames the tables and hands
the position over: a reader sees the old table or the new one, never a half-built
one, and never one behind what it saw before.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, MetaData, Table, delete, insert, select, text, update

from application.event_log import JobLog
from application.projection import JobsProjection
from application.projector import Projector
from infrastructure.database import Database
from infrastructure.deadline_reads import fill_added_columns
from infrastructure.locks import ExclusiveRole
from infrastructure.projection_store import SqlProjectionStore
from infrastructure.tables import (
    add_missing_columns,
    damaged_events,
    jobs_table,
    projection_positions,
)

LIVE_TABLE = "jobs"
REBUILD_TABLE = "jobs_rebuild"
RETIRED_TABLE = "jobs_retired"


class RebuildInProgress(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"A rebuild of projection {name!r} is already running; wait for it to finish "
            "(jobtrail projections status shows its progress)."
        )


class UnknownProjection(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"There is no projection {name!r}; the projections are: jobs.")


@dataclass(frozen=True)
class RebuildResult:
    events: int
    resumed_from: int
    position: int
    seconds: float


Progress = Callable[[int, int], None]
"""Called with (position, head) after every batch."""


def rebuild_name(name: str) -> str:
    return f"{name}:rebuild"


def rebuild_role(database: Database, name: str) -> ExclusiveRole:
    return ExclusiveRole(database, f"rebuild-{name}")


def rebuild_running(database: Database, name: str) -> bool:
    """Whether some process is rebuilding the projection right now."""
    role = rebuild_role(database, name)
    if role.try_acquire():
        role.release()
        return False
    return True


class Rebuild:
    def __init__(
        self, log: JobLog, database: Database, name: str = "jobs", batch_size: int = 5000
    ) -> None:
        if name != JobsProjection.name:
            raise UnknownProjection(name)
        self._log = log
        self._db = database
        self._name = name
        self._batch_size = batch_size

    def run(self, progress: Progress = lambda position, head: None) -> RebuildResult:
        role = rebuild_role(self._db, self._name)
        if not role.try_acquire():
            raise RebuildInProgress(self._name)
        try:
            started = time.monotonic()
            table, resumed_from = self._prepare()
            from_zero = resumed_from == 0
            if not from_zero:
                # A resumed rebuild does not know the earlier jobs' ids: it needs the
                # aggregate-id index to find their rows.
                _create_deferred_indexes(self._db, table)
            projector = Projector(
                self._log,
                SqlProjectionStore(self._db, table, track_job_ids=from_zero),
                JobsProjection(),
                self._batch_size,
                name=rebuild_name(self._name),
                sole_applier=True,
            )
            while True:
                while projector.step():
                    progress(projector.position(), self._log.head())
                _create_deferred_indexes(self._db, table)
                if self._swap(projector):
                    break
            position = self._live_position()
            return RebuildResult(
                position - resumed_from, resumed_from, position, time.monotonic() - started
            )
        finally:
            role.release()

    def _prepare(self) -> tuple[Table, int]:
        """The rebuild's table and position: resumed if one was interrupted."""
        positions = projection_positions.c
        with self._db.writer() as conn:
            found = conn.execute(
                select(positions.position, positions.generation).where(
                    positions.name == rebuild_name(self._name)
                )
            ).first()
            if found is not None:
                table = _table(REBUILD_TABLE, found.generation)
                # Interrupted by an older release, it may lack a column added since.
                fill_added_columns(conn, table, add_missing_columns(conn, table))
                return table, int(found.position)
            live_generation = conn.execute(
                select(positions.generation).where(positions.name == self._name)
            ).scalar_one()
            generation = int(live_generation) + 1
            conn.execute(text(f'DROP TABLE IF EXISTS "{REBUILD_TABLE}"'))
            # Damage is met again from the first event: a restored event is damaged no more.
            conn.execute(delete(damaged_events))
            table = _table(REBUILD_TABLE, generation)
            deferred = {index for index in table.indexes if index.name in _deferred(table)}
            table.indexes.difference_update(deferred)
            table.create(conn)
            table.indexes.update(deferred)
            conn.execute(
                insert(projection_positions).values(
                    name=rebuild_name(self._name),
                    position=0,
                    state="rebuilding",
                    generation=generation,
                )
            )
            return table, 0

    def _swap(self, projector: Projector) -> bool:
        """Swaps the tables if the rebuild has caught up with the live projection."""
        positions = projection_positions.c
        live_query = select(positions.position).where(positions.name == self._name)
        if self._db.backend == "postgresql":
            live_query = live_query.with_for_update()
        with self._db.writer() as conn:
            if self._db.backend == "postgresql":
                # Scheduling writes its jobs' rows with its events, and may write some
                # past the live position: with the live table locked first (as such a
                # write locks it before the position's row, so the two never deadlock),
                # none is under way, and the rebuilt table must hold every event so far.
                conn.execute(text(f'LOCK TABLE "{LIVE_TABLE}" IN ACCESS EXCLUSIVE MODE'))
                written = self._log.head()
                # The rebuild takes those last events now (into its own table, in its
                # own transactions): no more come into the live table meanwhile.
                while projector.position() < written and projector.step():
                    pass
            else:
                written = 0
            live = max(int(conn.execute(live_query).scalar_one()), written)
            rebuilt, generation = conn.execute(
                select(positions.position, positions.generation).where(
                    positions.name == rebuild_name(self._name)
                )
            ).one()
            if rebuilt < live:
                return False
            _rename(conn, LIVE_TABLE, RETIRED_TABLE)
            _rename(conn, REBUILD_TABLE, LIVE_TABLE)
            conn.execute(
                update(projection_positions)
                .where(positions.name == self._name)
                .values(
                    position=rebuilt,
                    generation=generation,
                    state="live",
                    error=None,
                    written_from=None,  # the live table's run: the rebuilt one has it all
                    written_to=None,
                )
            )
            conn.execute(
                delete(projection_positions).where(positions.name == rebuild_name(self._name))
            )
            conn.execute(text(f'DROP TABLE "{RETIRED_TABLE}"'))
            return True

    def _live_position(self) -> int:
        query = select(projection_positions.c.position).where(
            projection_positions.c.name == self._name
        )
        with self._db.reader() as conn:
            return int(conn.execute(query).scalar_one())


def _deferred(table: Table) -> set[str]:
    """Indexes built once the rows are in: a bulk build beats row-by-row upkeep.
    (Updates during a rebuild from zero find rows by job id, not aggregate id.)"""
    return {index.name for index in table.indexes if index.name}


def _create_deferred_indexes(database: Database, table: Table) -> None:
    with database.writer(durable=False) as conn:
        for index in table.indexes:
            if index.name in _deferred(table):
                index.create(conn, checkfirst=True)


def _table(name: str, generation: int) -> Table:
    return jobs_table(name, MetaData(), suffix=f"_g{generation}")


def _rename(conn: Connection, old: str, new: str) -> None:
    conn.execute(text(f'ALTER TABLE "{old}" RENAME TO "{new}"'))

"""Where a projection writes: its position, its jobs table, its damage records, all
in one transaction per batch (so an event is applied exactly once)."""

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
import psycopg
from sqlalchemy import Connection, Insert, Table, Update, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from application.job_records import COLUMNS, EVENT_COLUMNS, Damage, JobRow
from application.ports import ProjectionRecord
from domain.lifecycle import JobStatus
from infrastructure.database import Database, DatabaseUnavailable
from infrastructure.tables import damaged_events, jobs, projection_positions


def shown_values(row: JobRow) -> dict[str, Any]:
    """A row's values as ``show_jobs`` takes them."""
    return {
        f"new_{name}": value
        for name, value in zip(COLUMNS, msgspec.structs.astuple(row), strict=True)
    }


def _update_job(table: Table, by: str = "aggregate_id") -> Update:
    """The change of one job's row, found by aggregate id or (``by="job_id"``) job id;
    never back to an earlier version (scheduling may have written a later one)."""
    return (
        update(table)
        .where(table.c[by] == bindparam(f"b_{by}"))
        .where(table.c.version < bindparam("b_version"))
        .values({name: bindparam(f"b_{name}", type_=table.c[name].type) for name in EVENT_COLUMNS})
    )


def show_jobs(table: Table, backend: str) -> Insert:
    """Jobs' rows written as they are now: inserted, or an existing row brought
    forward to them, never back. Both writers of the live table use it: scheduling,
    inline, for the jobs it answers with, and the projection, which may meet a job's
    row written already."""
    dialect = postgresql if backend == "postgresql" else sqlite
    statement = dialect.insert(table).values({name: bindparam(f"new_{name}") for name in COLUMNS})
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[table.c.job_id],
        set_={name: statement.excluded[name] for name in EVENT_COLUMNS},
        where=table.c.version < statement.excluded.version,
    )
    return upsert


class _SqlProjectionTransaction:
    def __init__(
        self,
        conn: Connection,
        name: str,
        position: int,
        table: Table,
        job_ids: dict[str, int] | None,
    ) -> None:
        self._conn = conn
        self._name = name
        self._position = position
        self._table = table
        self._job_ids = job_ids

    @property
    def position(self) -> int:
        return self._position

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        return _rows(self._conn, self._table, aggregate_ids, self._job_ids)

    def insert_jobs(self, rows: Sequence[JobRow]) -> None:
        if not rows:
            return
        if self._table is jobs:
            # The live table, where scheduling writes the rows of the jobs it makes.
            dialect = self._conn.dialect.name
            self._conn.execute(show_jobs(jobs, dialect), [shown_values(row) for row in rows])
            return
        # A rebuild's own table: tuples in COLUMNS' order, straight to the driver, with
        # no per-row parameter processing (a rebuild writes a million of them).
        values = [msgspec.structs.astuple(row) for row in rows]
        if self._conn.dialect.name == "postgresql":
            self._copy(values)
        else:
            self._conn.exec_driver_sql(_insert_sql(self._table), values)
        self._remember(rows)

    def _copy(self, rows: list[tuple[Any, ...]]) -> None:
        driver_connection = self._conn.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        try:
            with (
                driver_connection.cursor() as cursor,
                cursor.copy(_copy_sql(self._table)) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.OperationalError as error:
            # Raised past SQLAlchemy, which would have said the database is gone (the
            # pool's pre-ping keeps the dead connection from being handed out again).
            raise DatabaseUnavailable(str(error)) from error

    def update_jobs(self, changes: Sequence[JobRow]) -> None:
        """Writes the ``EVENT_COLUMNS`` of each job's row after events."""
        if not changes:
            return
        known = self._job_ids or {}
        by_job_id = [c for c in changes if c.aggregate_id in known]
        by_aggregate = [c for c in changes if c.aggregate_id not in known]
        if by_job_id:
            self._conn.execute(
                _update_job(self._table, by="job_id"),
                [{**_change_values(c), "b_job_id": known[c.aggregate_id]} for c in by_job_id],
            )
            for change in by_job_id:
                if JobStatus(change.status).is_terminal:
                    del known[change.aggregate_id]
        if by_aggregate:
            self._conn.execute(
                _update_job(self._table), [_change_values(change) for change in by_aggregate]
            )

    def _remember(self, rows: Sequence[JobRow]) -> None:
        if self._job_ids is not None:
            for row in rows:
                if not JobStatus(row.status).is_terminal:
                    self._job_ids[row.aggregate_id] = row.job_id

    def record_damage(self, damage: Sequence[Damage]) -> None:
        if not damage:
            return
        known = set(
            self._conn.execute(
                select(damaged_events.c.position).where(
                    damaged_events.c.position.in_([d.position for d in damage])
                )
            ).scalars()
        )
        fresh = [d for d in damage if d.position not in known]  # a rebuild meets them again
        if fresh:
            self._conn.execute(
                damaged_events.insert(),
                [
                    {"position": d.position, "aggregate_id": d.aggregate_id, "detail": d.detail}
                    for d in fresh
                ],
            )
        self._conn.execute(
            update(self._table)
            .where(self._table.c.aggregate_id == bindparam("b_aggregate_id"))
            .where(self._table.c.damaged.is_(None))  # the first damage says why
            .values(damaged=bindparam("b_detail")),
            [{"b_aggregate_id": d.aggregate_id, "b_detail": d.detail} for d in damage],
        )

    def advance(self, position: int) -> int:
        positions = projection_positions.c
        run_starts_here = positions.written_from == position + 1
        run_still_ahead = positions.written_from > position + 1
        self._position = self._conn.execute(
            update(projection_positions)
            .where(positions.name == self._name)
            .values(
                position=case((run_starts_here, positions.written_to), else_=position),
                written_from=case((run_still_ahead, positions.written_from), else_=None),
                written_to=case((run_still_ahead, positions.written_to), else_=None),
            )
            .returning(positions.position)
        ).scalar_one()
        return self._position


class SqlProjectionStore:
    """Positions of projections, and the table a projection writes (by default the
    live jobs table; a rebuild writes its own).

    ``track_job_ids`` is for a rebuild from the first event: it remembers the job
    id of every job that may still change, so updates find rows by primary key and
    the aggregate-id index can be built once, after the load."""

    def __init__(
        self, database: Database, table: Table = jobs, track_job_ids: bool = False
    ) -> None:
        self._db = database
        self._table = table
        self._job_ids: dict[str, int] | None = {} if track_job_ids else None

    @contextmanager
    def transaction(self, name: str) -> Iterator[_SqlProjectionTransaction]:
        query = select(projection_positions.c.position).where(projection_positions.c.name == name)
        if self._db.backend == "postgresql":
            query = query.with_for_update()
        with self._db.writer(durable=False) as conn:
            position = conn.execute(query).scalar_one()
            yield _SqlProjectionTransaction(conn, name, position, self._table, self._job_ids)

    def position(self, name: str) -> int:
        query = select(projection_positions.c.position).where(projection_positions.c.name == name)
        with self._db.reader() as conn:
            return int(conn.execute(query).scalar_one())

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        with self._db.reader() as conn:
            return _rows(conn, self._table, aggregate_ids, self._job_ids)

    def mark(self, name: str, state: str, error: str | None) -> None:
        with self._db.writer() as conn:
            conn.execute(
                update(projection_positions)
                .where(projection_positions.c.name == name)
                .values(state=state, error=error)
            )

    def damage(self) -> list[Damage]:
        """Every event the projection met and could not decode, in log order."""
        columns = damaged_events.c
        query = select(columns.position, columns.aggregate_id, columns.detail)
        with self._db.reader() as conn:
            return [Damage(*row) for row in conn.execute(query.order_by(columns.position))]

    def records(self) -> list[ProjectionRecord]:
        columns = projection_positions.c
        query = select(columns.name, columns.position, columns.state, columns.error)
        with self._db.reader() as conn:
            return [ProjectionRecord(*row) for row in conn.execute(query.order_by(columns.name))]


def _rows(
    conn: Connection,
    table: Table,
    aggregate_ids: Collection[str],
    job_ids: dict[str, int] | None,
) -> dict[str, JobRow]:
    """Rows by aggregate id; by job id (the primary key) where a rebuild remembers it,
    since its aggregate-id index is only built at the end."""
    known = job_ids or {}
    by_job_id = [known[a] for a in aggregate_ids if a in known]
    by_aggregate = [a for a in aggregate_ids if a not in known]
    columns = [table.c[name] for name in COLUMNS]
    found: dict[str, JobRow] = {}
    for column, keys in ((table.c.job_id, by_job_id), (table.c.aggregate_id, by_aggregate)):
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            for row in conn.execute(select(*columns).where(column.in_(chunk))):
                job_row = JobRow(*row)  # the values of COLUMNS, in order
                found[job_row.aggregate_id] = job_row
    return found


_LOOKUP_CHUNK = 500


def _insert_sql(table: Table) -> str:
    columns = ", ".join(COLUMNS)
    markers = ", ".join(["?"] * len(COLUMNS))
    return f'INSERT INTO "{table.name}" ({columns}) VALUES ({markers})'  # noqa: S608 - names are ours


def _copy_sql(table: Table) -> str:
    return f'COPY "{table.name}" ({", ".join(COLUMNS)}) FROM STDIN'


def _change_values(change: JobRow) -> dict[str, object]:
    values = {f"b_{name}": getattr(change, name) for name in EVENT_COLUMNS}
    return {**values, "b_aggregate_id": change.aggregate_id}

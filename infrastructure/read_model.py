"""The jobs read model in SQL: what GET endpoints read and the projection writes."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    literal_column,
    or_,
    select,
)

from application.errors import DamagedRecord
from application.job_records import (
    COLUMNS,
    VIEW_COLUMNS,
    DueJob,
    JobRow,
    JobView,
    view_of,
    views_of,
)
from domain.job import job_aggregate_id
from domain.lifecycle import DUE_WHEN, DueAt, JobStatus
from domain.request import FORGOTTEN
from infrastructure.async_reads import AsyncReader
from infrastructure.database import Database
from infrastructure.deadline_reads import OWING
from infrastructure.tables import jobs

_VIEW_COLUMNS = [jobs.c[name] for name in VIEW_COLUMNS]


# Built once: constructing a statement costs more than running it.
GET_JOB = select(*_VIEW_COLUMNS, jobs.c.damaged).where(
    jobs.c.job_id == bindparam("job_id"), jobs.c.project_id == bindparam("project_id")
)


def _listing(status: bool, user_prefix: bool = False) -> Select[tuple[object, ...]]:
    query = select(*_VIEW_COLUMNS).where(jobs.c.project_id == bindparam("project_id"))
    if status:
        query = query.where(jobs.c.status == bindparam("status"))
    if user_prefix:
        query = query.where(jobs.c.reference_id.like(bindparam("user_like"), escape="/"))
    # An offset even where it is 0: SQLite's dialect would bind one of its own.
    return (
        query.order_by(jobs.c.job_id.desc()).limit(bindparam("limit")).offset(bindparam("offset"))
    )


PAGE_OF_JOBS = {
    (status, prefix): _listing(status, prefix)
    for status in (False, True)
    for prefix in (False, True)
}
"""A page of a project's jobs, newest first, of any status or of one, of any user or
of those whose id starts with a prefix."""
BELOW = {
    status: _listing(status).where(jobs.c.job_id < bindparam("below")) for status in (False, True)
}
"""The next batch of a project's whole list, below the last job id sent (keyset
pagination: each batch is its own short read, so a slow client holds no
transaction open and memory stays one batch deep)."""
STREAM_BATCH_SIZE = 1000
_ABOVE_EVERY_ID = 2**63 - 1


def page_values(
    project_id: int, status: str | None, limit: int, offset: int, user_prefix: str | None = None
) -> dict[str, Any]:
    values: dict[str, Any] = {"project_id": project_id, "limit": limit, "offset": offset}
    if status is not None:
        values["status"] = status
    if user_prefix:
        escaped = user_prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
        values["user_like"] = f"{escaped}%"
    return values


def job_from_row(job_id: int, row: tuple[Any, ...] | None) -> JobView | None:
    """The job of a ``GET_JOB`` row; DamagedRecord if the log's record of it cannot
    be read."""
    if row is None:
        # Also when its Scheduled event is the damaged one: then nobody can tell
        # whose job it was, and another organization must not learn it exists.
        return None
    if row[-1] is not None:
        raise DamagedRecord(str(job_aggregate_id(job_id)), row[-1])
    return view_of(row[:-1])


def _owing(project: bool) -> Select[tuple[object, ...]]:
    # The statuses written into the statement: the API's reader binds only named
    # parameters (infrastructure.async_reads), and these are the domain's constants.
    owing = jobs.c.status.in_([literal_column(f"'{status}'") for status in OWING])
    query = select(*_VIEW_COLUMNS).where(owing, jobs.c.respond_by <= bindparam("due_by"))
    if project:
        query = query.where(jobs.c.project_id == bindparam("project_id"))
    ordered = query.order_by(jobs.c.respond_by, jobs.c.job_id)
    return ordered.limit(bindparam("limit")).offset(bindparam("offset"))  # as _listing's


OWING_ANSWERS = {project: _owing(project) for project in (False, True)}
"""Jobs that owe an answer by a moment, soonest first, of every project or of one."""


def _owing_values(project_id: int | None, due_by_ms: int, limit: int) -> dict[str, Any]:
    values: dict[str, Any] = {"due_by": due_by_ms, "limit": limit, "offset": 0}
    return values if project_id is None else {**values, "project_id": project_id}


class AsyncJobsReadModel:
    """The read model as the API and the dashboard read it, awaited on the event loop
    (application.ports.AsyncReadModel)."""

    def __init__(self, reader: AsyncReader) -> None:
        self._reader = reader

    async def get(self, project_id: int, job_id: int) -> JobView | None:
        rows = await self._reader.rows(GET_JOB, {"job_id": job_id, "project_id": project_id})
        return job_from_row(job_id, rows[0] if rows else None)

    async def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        offset: int,
        user_prefix: str | None = None,
    ) -> list[JobView]:
        statement = PAGE_OF_JOBS[status is not None, bool(user_prefix)]
        values = page_values(project_id, status, limit, offset, user_prefix)
        return views_of(await self._reader.rows(statement, values))

    async def stream(self, project_id: int, status: str | None) -> AsyncIterator[list[JobView]]:
        values = page_values(project_id, status, STREAM_BATCH_SIZE, 0)
        values["below"] = _ABOVE_EVERY_ID
        while True:
            batch = views_of(await self._reader.rows(BELOW[status is not None], values))
            if not batch:
                return
            yield batch
            if len(batch) < STREAM_BATCH_SIZE:
                return
            values["below"] = batch[-1].job_id

    async def owing_answers(
        self, project_id: int | None, due_by_ms: int, limit: int
    ) -> list[JobView]:
        statement = OWING_ANSWERS[project_id is not None]
        return views_of(
            await self._reader.rows(statement, _owing_values(project_id, due_by_ms, limit))
        )


_DUE_AT = {DueAt.START: jobs.c.start_at, DueAt.LEASE_END: jobs.c.lease_until}
"""The column of each moment from which a job is due (domain.lifecycle.DUE_WHEN)."""


class SqlJobsReadModel:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, project_id: int, job_id: int) -> JobView | None:
        """The job's row; DamagedRecord if the log's record of it cannot be read."""
        return job_from_row(
            job_id, self._db.fetch_one(GET_JOB, {"job_id": job_id, "project_id": project_id})
        )

    def page(self, project_id: int, status: str | None, limit: int, offset: int) -> list[JobView]:
        statement = PAGE_OF_JOBS[status is not None, False]
        return views_of(
            self._db.fetch_all(statement, page_values(project_id, status, limit, offset))
        )

    def every_job(self) -> Iterator[JobRow]:
        """Every job of every project with every column, by job id, in bounded batches."""
        above = 0
        columns = [jobs.c[name] for name in COLUMNS]
        while True:
            query = (
                select(*columns)
                .where(jobs.c.job_id > above)
                .order_by(jobs.c.job_id)
                .limit(STREAM_BATCH_SIZE)
            )
            with self._db.reader() as conn:
                batch = [JobRow(*row) for row in conn.execute(query)]  # COLUMNS, in order
            yield from batch
            if len(batch) < STREAM_BATCH_SIZE:
                return
            above = batch[-1].job_id

    def owing_answers(self, project_id: int | None, due_by_ms: int, limit: int) -> list[JobView]:
        statement = OWING_ANSWERS[project_id is not None]
        return views_of(self._db.fetch_all(statement, _owing_values(project_id, due_by_ms, limit)))

    def forgettable(self, ended_by_ms: int, after_job_id: int, limit: int) -> list[int]:
        query = (
            select(jobs.c.job_id)
            .where(
                jobs.c.status.in_([status.value for status in JobStatus if status.is_terminal]),
                jobs.c.updated_at <= ended_by_ms,
                jobs.c.reference_id != FORGOTTEN,
                jobs.c.job_id > after_job_id,
            )
            .order_by(jobs.c.job_id)
            .limit(limit)
        )
        with self._db.reader() as conn:
            return list(conn.execute(query).scalars())

    def due(self, now_ms: int, limit: int) -> list[DueJob]:
        query = (
            select(jobs.c.job_id, jobs.c.project_id, jobs.c.reference_id)
            .where(
                or_(
                    *(
                        and_(jobs.c.status == status.value, _DUE_AT[due_at] <= now_ms)
                        for status, due_at in DUE_WHEN.items()
                    )
                ),
                # A job whose record cannot be read cannot be run: never hand it out.
                jobs.c.damaged.is_(None),
            )
            .order_by(jobs.c.start_at, jobs.c.job_id)
            .limit(limit)
        )
        with self._db.reader() as conn:
            return [DueJob(*row) for row in conn.execute(query)]

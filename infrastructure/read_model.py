"""The jobs read model in SQL: what GET endpoints read and the projection writes."""

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
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
from infrastructure.batches import Batches
from infrastructure.database import Database
from infrastructure.deadline_reads import OWING
from infrastructure.tables import jobs

_VIEW_COLUMNS = [jobs.c[name] for name in VIEW_COLUMNS]


JOBS_A_READ_TAKES = 32
"""Single jobs read by one statement at most: GETs that arrive together share it."""
# Built once: constructing a statement costs more than running it. One statement for
# any number of jobs up to the most, on either database (the unused places repeat an
# id), so that PostgreSQL prepares it once.
JOBS_AMONG = select(*_VIEW_COLUMNS, jobs.c.damaged).where(
    jobs.c.job_id.in_([bindparam(f"job{place}") for place in range(JOBS_A_READ_TAKES)])
)
_JOB_ID, _PROJECT_ID = VIEW_COLUMNS.index("job_id"), VIEW_COLUMNS.index("project_id")


def _among_values(job_ids: list[int]) -> dict[str, int]:
    return {
        f"job{place}": job_ids[min(place, len(job_ids) - 1)] for place in range(JOBS_A_READ_TAKES)
    }


def _by_id(rows: list[tuple[Any, ...]]) -> dict[int, tuple[Any, ...]]:
    return {row[_JOB_ID]: row for row in rows}


def _theirs(row: tuple[Any, ...] | None, project_id: int) -> tuple[Any, ...] | None:
    """The row, if the job is the project's: another project's job is not found."""
    return row if row is not None and row[_PROJECT_ID] == project_id else None


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
    """The job of a ``JOBS_AMONG`` row; DamagedRecord if the log's record of it cannot
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

    def __init__(self, reader: AsyncReader, deadline: float) -> None:
        """``deadline``: seconds a read of jobs together may take before each of its
        requests is answered 503 (a read no caller waits for any more still ends)."""
        self._reader = reader
        self._deadline = deadline
        # Two reads under way at once: one runs while the next gathers its requests.
        self._jobs: Batches[int, tuple[Any, ...] | None] = Batches(
            self._rows_of, in_flight=2, max_batch=JOBS_A_READ_TAKES
        )

    async def get(self, project_id: int, job_id: int) -> JobView | None:
        return job_from_row(job_id, _theirs(await self._jobs.submit(job_id), project_id))

    async def _rows_of(self, job_ids: Sequence[int]) -> list[tuple[Any, ...] | None]:
        async with asyncio.timeout(self._deadline):
            rows = await self._reader.rows(JOBS_AMONG, _among_values(list(job_ids)))
        found = _by_id(rows)
        return [found.get(job_id) for job_id in job_ids]

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
        rows = _by_id(self._db.fetch_all(JOBS_AMONG, _among_values([job_id])))
        return job_from_row(job_id, _theirs(rows.get(job_id), project_id))

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

"""The jobs read model in SQL: what GET endpoints read and the projection writes."""

import asyncio
import functools
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    MetaData,
    Select,
    and_,
    bindparam,
    literal_column,
    or_,
    select,
    update,
)

from application.errors import DamagedRecord
from application.job_records import (
    COLUMNS,
    DueJob,
    JobRow,
    JobView,
    view_of,
    views_of,
)
from application.projection import JobsProjection
from domain.job import job_aggregate_id
from domain.lifecycle import DUE_WHEN, DueAt, JobStatus
from domain.request import FORGOTTEN, FORGOTTEN_PERSONAL_DATA
from infrastructure.async_reads import AsyncReader
from infrastructure.batches import Batches
from infrastructure.database import Database
from infrastructure.deadline_reads import OWING
from infrastructure.reads_together import (
    JOBS_A_READ_TAKES,
    JOBS_AMONG,
    PAGES_A_READ_TAKES,
    SHARED_PAGE_DEPTH,
    VIEW_SELECTED,
    PageKind,
    among_values,
    by_id,
    listing,
    page_values,
    pages_of,
    pages_together,
    slot_values,
    theirs,
)
from infrastructure.rebuild import REBUILD_TABLE, rebuild_name
from infrastructure.tables import jobs, projection_positions

BELOW = {
    status: listing(status).where(jobs.c.job_id < bindparam("below")) for status in (False, True)
}
"""The next batch of a project's whole list, below the last job id sent (keyset
pagination: each batch is its own short read, so a slow client holds no
transaction open and memory stays one batch deep)."""
STREAM_BATCH_SIZE = 1000
_ABOVE_EVERY_ID = 2**63 - 1


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
    query = select(*VIEW_SELECTED).where(owing, jobs.c.respond_by <= bindparam("due_by"))
    if project:
        query = query.where(jobs.c.project_id == bindparam("project_id"))
    ordered = query.order_by(jobs.c.respond_by, jobs.c.job_id)
    # Limit and offset both bound, as in reads_together.listing.
    return ordered.limit(bindparam("limit")).offset(bindparam("offset"))


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
        self._pages: dict[PageKind, Batches[dict[str, Any], list[tuple[Any, ...]]]] = {
            kind: Batches(
                functools.partial(self._pages_of, kind), in_flight=2, max_batch=PAGES_A_READ_TAKES
            )
            for kind in pages_together
        }

    async def get(self, project_id: int, job_id: int) -> JobView | None:
        return job_from_row(job_id, theirs(await self._jobs.submit(job_id), project_id))

    async def _rows_of(self, job_ids: Sequence[int]) -> list[tuple[Any, ...] | None]:
        async with asyncio.timeout(self._deadline):
            rows = await self._reader.rows(JOBS_AMONG, among_values(list(job_ids)))
        found = by_id(rows)
        return [found.get(job_id) for job_id in job_ids]

    async def _pages_of(
        self, kind: PageKind, asked: Sequence[dict[str, Any]]
    ) -> list[list[tuple[Any, ...]]]:
        async with asyncio.timeout(self._deadline):
            rows = await self._reader.rows(pages_together[kind], slot_values(kind, asked))
        return pages_of(rows, len(asked))

    async def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        offset: int,
        user_prefix: str | None = None,
    ) -> list[JobView]:
        kind = (status is not None, bool(user_prefix))
        values = page_values(project_id, status, limit, offset, user_prefix)
        if user_prefix or offset + limit > SHARED_PAGE_DEPTH:
            [alone] = await self._pages_of(kind, [values])
            return views_of(alone)
        return views_of(await self._pages[kind].submit(values))

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

    def forget_in_unfinished_rebuild(self, job_ids: Collection[int]) -> None:
        if not job_ids:
            return
        forgotten = {
            "reference_id": FORGOTTEN_PERSONAL_DATA["reference_id"],
            "description": FORGOTTEN_PERSONAL_DATA["description"],
        }
        with self._db.writer() as conn:
            # The rebuild's own position exists while its table is unfinished.
            unfinished = conn.execute(
                select(projection_positions.c.name).where(
                    projection_positions.c.name == rebuild_name(JobsProjection.name)
                )
            ).first()
            if unfinished is not None:
                rebuilding = jobs.to_metadata(MetaData(), name=REBUILD_TABLE)
                conn.execute(
                    update(rebuilding)
                    .where(rebuilding.c.job_id.in_(list(job_ids)))
                    .values(**forgotten)
                )

    def get(self, project_id: int, job_id: int) -> JobView | None:
        """The job's row; DamagedRecord if the log's record of it cannot be read."""
        rows = by_id(self._db.fetch_all(JOBS_AMONG, among_values([job_id])))
        return job_from_row(job_id, theirs(rows.get(job_id), project_id))

    def page(self, project_id: int, status: str | None, limit: int, offset: int) -> list[JobView]:
        kind = (status is not None, False)
        values = slot_values(kind, [page_values(project_id, status, limit, offset)])
        [page] = pages_of(self._db.fetch_all(pages_together[kind], values), 1)
        return views_of(page)

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

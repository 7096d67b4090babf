"""The jobs read model in SQL: what GET endpoints read and the projection writes."""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
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
from infrastructure.database import Database
from infrastructure.deadline_reads import OWING
from infrastructure.tables import jobs

_VIEW_COLUMNS = [jobs.c[name] for name in VIEW_COLUMNS]


STREAM_BATCH_SIZE = 1000


# Built once: constructing a statement costs more than running it.
GET_JOB = select(*_VIEW_COLUMNS, jobs.c.damaged).where(
    jobs.c.job_id == bindparam("job_id"), jobs.c.project_id == bindparam("project_id")
)


def _page_of(status: bool) -> Select[tuple[object, ...]]:
    query = select(*_VIEW_COLUMNS).where(jobs.c.project_id == bindparam("project_id"))
    if status:
        query = query.where(jobs.c.status == bindparam("status"))
    return (
        query.order_by(jobs.c.job_id.desc()).limit(bindparam("limit")).offset(bindparam("offset"))
    )


PAGE_OF_JOBS = {False: _page_of(status=False), True: _page_of(status=True)}
"""A page of a project's jobs, newest first, of any status or of one (``status``)."""


def page_values(project_id: int, status: str | None, limit: int, offset: int) -> dict[str, Any]:
    values = {"project_id": project_id, "limit": limit, "offset": offset}
    return values if status is None else {**values, "status": status}


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


def _select_jobs(project_id: int, status: str | None) -> Select[tuple[object, ...]]:
    query = select(*_VIEW_COLUMNS).where(jobs.c.project_id == project_id)
    if status is not None:
        query = query.where(jobs.c.status == status)
    return query.order_by(jobs.c.job_id.desc())


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

    def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        offset: int,
        user_prefix: str | None = None,
    ) -> list[JobView]:
        if not user_prefix:  # the API's page: prebuilt, as the event loop's reader runs it
            statement = PAGE_OF_JOBS[status is not None]
            rows = self._db.fetch_all(statement, page_values(project_id, status, limit, offset))
            return views_of(rows)
        query = _select_jobs(project_id, status).limit(limit).offset(offset)
        query = query.where(jobs.c.reference_id.startswith(user_prefix, autoescape=True))
        with self._db.reader() as conn:
            return views_of(conn.execute(query))

    def stream(self, project_id: int, status: str | None) -> Iterator[list[JobView]]:
        # Keyset pagination: each batch is its own short read, so a slow client
        # holds no transaction open and memory stays one batch deep.
        below: int | None = None
        while True:
            query = _select_jobs(project_id, status).limit(STREAM_BATCH_SIZE)
            if below is not None:
                query = query.where(jobs.c.job_id < below)
            with self._db.reader() as conn:
                batch = views_of(conn.execute(query))
            if not batch:
                return
            yield batch
            if len(batch) < STREAM_BATCH_SIZE:
                return
            below = batch[-1].job_id

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
        query = select(*_VIEW_COLUMNS).where(
            jobs.c.status.in_(OWING), jobs.c.respond_by <= due_by_ms
        )
        if project_id is not None:
            query = query.where(jobs.c.project_id == project_id)
        query = query.order_by(jobs.c.respond_by, jobs.c.job_id).limit(limit)
        with self._db.reader() as conn:
            return views_of(conn.execute(query))

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

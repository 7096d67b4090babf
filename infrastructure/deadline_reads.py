"""The response deadline in SQL: figures for /metrics, and the deadlines of rows
written before deadlines were recorded (domain.deadline has the rules)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)

from application.epoch import epoch_ms, moment_of
from domain.deadline import ONE_MONTH, awaits_answer
from domain.lifecycle import JobStatus
from infrastructure.database import Database
from infrastructure.tables import jobs

log = logging.getLogger("jobtrail.schema")
_FILL_BATCH = 5000

OWING = [status.value for status in JobStatus if awaits_answer(status)]
"""The statuses of jobs that still owe their request an answer."""


@dataclass(frozen=True, slots=True)
class DeadlineFigures:
    """The read model's deadlines at one moment, over every project."""

    overdue: int
    soon: int
    answered_late: int
    completion_buckets: list[tuple[float, int]]
    """(upper bound in seconds, completed jobs that took at most that long), cumulative."""
    completed: int
    completion_seconds: float


def deadline_figures(
    database: Database, now_ms: int, soon_ms: int, bounds: Sequence[float]
) -> DeadlineFigures:
    """Counted by the database at the moment asked (one scan of the jobs table), so
    every process that serves /metrics says the same."""
    c = jobs.c
    owing = c.status.in_(OWING)
    completed = c.status == JobStatus.COMPLETED.value
    took = c.updated_at - c.created_at  # a completed job's updatedAt is its completion

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = select(
        count(and_(owing, c.respond_by < now_ms)),
        count(and_(owing, c.respond_by >= now_ms, c.respond_by <= soon_ms)),
        count(and_(completed, c.updated_at > c.respond_by)),
        count(completed),
        func.coalesce(func.sum(case((completed, took), else_=0)), 0),
        *(count(and_(completed, took <= int(bound * 1000))) for bound in bounds),
    )
    with database.reader() as conn:
        row = conn.execute(query).one()
    overdue, soon, late, done, took_ms, *within = (int(value) for value in row)
    return DeadlineFigures(
        overdue, soon, late, list(zip(bounds, within, strict=True)), done, took_ms / 1000
    )


def fill_response_deadlines(conn: Connection, table: Table) -> None:
    """Gives every row of a jobs table without a deadline the one its Scheduled event
    decodes with (the upcaster's rule: one month after the request, in the caller's
    transaction), so the read model and the log agree without a rebuild."""
    c = table.c
    fill = update(table).where(c.job_id == bindparam("b_job_id"))
    fill = fill.values(respond_by=bindparam("b_respond_by"))
    above, filled = 0, 0
    while True:
        batch = conn.execute(
            select(c.job_id, c.created_at)
            .where(c.respond_by.is_(None), c.job_id > above)
            .order_by(c.job_id)
            .limit(_FILL_BATCH)
        ).all()
        if not batch:
            break
        conn.execute(
            fill,
            [
                {"b_job_id": job_id, "b_respond_by": _one_month_after(created_at)}
                for job_id, created_at in batch
            ],
        )
        filled += len(batch)
        above = batch[-1][0]
    if filled:
        log.info("recorded the response deadline of %d jobs requested before deadlines", filled)


def _one_month_after(created_at_ms: int) -> int:
    return epoch_ms(ONE_MONTH.after(moment_of(created_at_ms)))


def fill_added_columns(conn: Connection, table: Table, added: Sequence[str]) -> None:
    """What a column added to an older jobs table must hold for its existing rows."""
    if "respond_by" in added:
        fill_response_deadlines(conn, table)

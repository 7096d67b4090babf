"""Statements that read for several requests at once: the API's GETs of single jobs,
and its pages of jobs, that arrive together (ADR 30; batched on the loop by
infrastructure.batches). Each is built once, for any number of requests up to its
most, on either database: the unused places ask for nothing, so PostgreSQL prepares
each statement once and SQLite runs the same text."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Select,
    bindparam,
    literal_column,
    select,
    union_all,
)

from application.job_records import VIEW_COLUMNS
from infrastructure.tables import jobs

VIEW_SELECTED = [jobs.c[name] for name in VIEW_COLUMNS]
"""The jobs table's columns a view shows, in the view's order: every read of views."""

JOBS_A_READ_TAKES = 32
"""Single jobs read by one statement at most: GETs that arrive together share it."""
# Built once: constructing a statement costs more than running it. One statement for
# any number of jobs up to the most, on either database (the unused places repeat an
# id). Its integers are typed (cast on PostgreSQL): psycopg would otherwise send each
# as int2, int4 or int8 by its size, and prepare the statement again for each mix.
JOBS_AMONG = select(*VIEW_SELECTED, jobs.c.damaged).where(
    jobs.c.job_id.in_(
        [bindparam(f"job{place}", type_=BigInteger) for place in range(JOBS_A_READ_TAKES)]
    )
)
_JOB_ID, _PROJECT_ID = VIEW_COLUMNS.index("job_id"), VIEW_COLUMNS.index("project_id")


def among_values(job_ids: list[int]) -> dict[str, int]:
    return {
        f"job{place}": job_ids[min(place, len(job_ids) - 1)] for place in range(JOBS_A_READ_TAKES)
    }


def by_id(rows: list[tuple[Any, ...]]) -> dict[int, tuple[Any, ...]]:
    return {row[_JOB_ID]: row for row in rows}


def theirs(row: tuple[Any, ...] | None, project_id: int) -> tuple[Any, ...] | None:
    """The row, if the job is the project's: another project's job is not found."""
    return row if row is not None and row[_PROJECT_ID] == project_id else None


def listing(status: bool, user_prefix: bool = False, place: str = "") -> Select[tuple[object, ...]]:
    """A project's jobs, newest first, of any status or of one, of any user or of those
    whose id starts with a prefix; its parameters named with ``place`` after them."""
    query = select(*VIEW_SELECTED).where(jobs.c.project_id == bindparam(f"project_id{place}"))
    if status:
        query = query.where(jobs.c.status == bindparam(f"status{place}"))
    if user_prefix:
        query = query.where(jobs.c.reference_id.like(bindparam(f"user_like{place}"), escape="/"))
    # An offset even where it is 0: SQLite's dialect would bind one of its own.
    return (
        query.order_by(jobs.c.job_id.desc())
        .limit(bindparam(f"limit{place}", type_=BigInteger))
        .offset(bindparam(f"offset{place}", type_=BigInteger))
    )


PAGES_A_READ_TAKES = 8
"""Pages read by one statement at most."""
SHARED_PAGE_DEPTH = 1_000
"""Rows a page may reach down to (offset + limit) and still share a statement. A
deeper page, or a search by user prefix, may scan much of a project: read alone, it
keeps other organizations' pages out of its wait."""
PageKind = tuple[bool, bool]
"""(of one status, of users with a prefix): pages of one kind share a statement."""


def _pages_together(kind: PageKind) -> CompoundSelect[tuple[object, ...]]:
    # Each place's page is a subquery of its own: SQLite allows no ORDER BY or LIMIT
    # on a member of a UNION. The place is the last column, and orders the whole.
    places = [
        select(
            listing(*kind, place=str(place))
            .add_columns(literal_column(str(place)).label("place"))
            .subquery()
        )
        for place in range(PAGES_A_READ_TAKES)
    ]
    return union_all(*places).order_by(literal_column("place"), literal_column("job_id").desc())


pages_together = {
    (status, prefix): _pages_together((status, prefix))
    for status in (False, True)
    for prefix in (False, True)
}
"""Up to PAGES_A_READ_TAKES pages of one kind, each row followed by its page's place."""


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


_NO_PAGE = {"project_id": 0, "status": "", "user_like": "", "limit": 0, "offset": 0}
"""An unused place: no rows (no project 0, and a limit of 0)."""


def slot_values(kind: PageKind, asked: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The values of ``pages_together[kind]`` for the pages asked, in place order."""
    names = ["project_id", "limit", "offset"] + ["status"] * kind[0] + ["user_like"] * kind[1]
    values: dict[str, Any] = {}
    for place in range(PAGES_A_READ_TAKES):
        page = asked[place] if place < len(asked) else _NO_PAGE
        values.update({f"{name}{place}": page[name] for name in names})
    return values


def pages_of(rows: list[tuple[Any, ...]], count: int) -> list[list[tuple[Any, ...]]]:
    """Each page's rows, without their place, in the order the pages were asked."""
    pages: list[list[tuple[Any, ...]]] = [[] for _ in range(count)]
    for row in rows:
        pages[row[-1]].append(row[:-1])
    return pages

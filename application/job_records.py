"""A job in the shapes the outside reads, written once: the read model's row
(``JobRow``, whose fields name the jobs table's columns), the API's view (``JobView``,
read from the row's columns), and the records beside them (a damaged event, a due
job). Every select of a row or a view names its columns from these fields."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from application.epoch import epoch_ms


class JobRow(msgspec.Struct, frozen=True, gc=False):
    """One job's row of the read model: the jobs table has these columns (and
    ``damaged``), by these names. Untracked by the garbage collector: a rebuild holds
    a million of them, and they hold only numbers and strings."""

    job_id: int
    aggregate_id: str
    version: int
    project_id: int
    action: str
    reference_id: str
    description: str
    status: str
    errors: str | None
    created_at: int
    updated_at: int
    start_at: int
    lease_until: int | None
    respond_by: int


COLUMNS: tuple[str, ...] = JobRow.__struct_fields__

EVENT_COLUMNS = (
    "version", "updated_at", "lease_until", "status", "errors", "reference_id", "description",
    "respond_by",
)  # fmt: skip
"""The columns a job's events after ``Scheduled`` may change: a job's row after them
is written to these, and only these."""


def changed(row: JobRow, after: JobRow) -> JobRow:
    """A job's row after events, as the table has it once ``after`` is written."""
    return msgspec.structs.replace(row, **{name: getattr(after, name) for name in EVENT_COLUMNS})


def job_row(job: Any) -> JobRow:
    """Every column the read model keeps of a job: of the aggregate, or of the
    projection's state of one (which has the aggregate's attributes)."""
    lease_until = job.lease_until
    return JobRow(
        job_id=job.job_id,
        aggregate_id=str(job.id),
        version=job.version,
        project_id=job.project_id,
        action=job.action,
        reference_id=job.reference_id,
        description=job.description,
        status=job.status.value,
        errors=job.error,
        created_at=epoch_ms(job.created_on),
        updated_at=epoch_ms(job.modified_on),
        start_at=epoch_ms(job.start_at),
        lease_until=None if lease_until is None else epoch_ms(lease_until),
        respond_by=epoch_ms(job.respond_by),
    )


DUE_BY = (
    "The response deadline, in epoch milliseconds: the request must be answered (the job "
    "completed) by then. One month after the request unless the operator set a shorter "
    "one; an operator may extend it, with a reason, up to three months after the request "
    "(GDPR Art. 12(3))."
)


class JobView(msgspec.Struct, frozen=True, rename="camel"):
    """A job in OpenReplay's shape: camelCase on the wire, times in epoch milliseconds.
    ``dueBy`` is jobtrail's addition (OpenReplay's clients ignore a field they do not
    know). Each field is the row's column of the same name (``due_by``: ``respond_by``)."""

    job_id: int
    description: str
    status: str
    project_id: int
    action: str
    reference_id: str
    created_at: int
    updated_at: int
    start_at: int
    errors: str | None
    due_by: Annotated[int, msgspec.Meta(description=DUE_BY)]


VIEW_COLUMNS = tuple("respond_by" if f == "due_by" else f for f in JobView.__struct_fields__)
"""The row's columns a view shows, in the view's order. Every read of views selects
these, so its rows become views by position with no second list of columns to keep
in step (by keyword, a page of 50 would cost 40 µs more)."""


def view_of(values: Sequence[Any]) -> JobView:
    """The view of the values of ``VIEW_COLUMNS``, in that order."""
    return JobView(*values)


def views_of(rows: Iterable[Sequence[Any]]) -> list[JobView]:
    return [JobView(*values) for values in rows]


def job_view(job: Any) -> JobView:
    row = job_row(job)
    return JobView(*(getattr(row, column) for column in VIEW_COLUMNS))


@dataclass(frozen=True, slots=True)
class Damage:
    """An event the projection could not decode: where, whose, and why."""

    position: int
    aggregate_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class DueJob:
    job_id: int
    project_id: int
    user_id: str

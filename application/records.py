"""The read model's records: a job's row, a change to it, a damaged event, a due job.
Values the ports take and return, kept apart from the ports themselves."""

from dataclasses import dataclass
from typing import NamedTuple

from application.views import JobView


class JobRow(NamedTuple):
    """One job's row of the read model; a store names its columns after these fields."""

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

    def view(self) -> JobView:
        return JobView(
            job_id=self.job_id,
            description=self.description,
            status=self.status,
            project_id=self.project_id,
            action=self.action,
            reference_id=self.reference_id,
            created_at=self.created_at,
            updated_at=self.updated_at,
            start_at=self.start_at,
            errors=self.errors,
            due_by=self.respond_by,
        )


@dataclass(frozen=True, slots=True)
class JobChange:
    """A job's row after one or more events: the columns events can change."""

    aggregate_id: str
    version: int
    updated_at: int
    lease_until: int | None
    status: str
    errors: str | None
    reference_id: str
    description: str
    respond_by: int


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

"""A job as the aggregate has it, in the shapes the outside reads: the API's view,
and the read model's row (which every check compares with, field by field)."""

from application.records import JobRow
from application.views import JobView, epoch_ms
from domain.job import Job


def job_view(job: Job) -> JobView:
    return JobView(
        job_id=job.job_id,
        description=job.description,
        status=str(job.status),
        project_id=job.project_id,
        action=job.action,
        reference_id=job.reference_id,
        created_at=epoch_ms(job.created_on),
        updated_at=epoch_ms(job.modified_on),
        start_at=epoch_ms(job.start_at),
        errors=job.error,
        due_by=epoch_ms(job.respond_by),
    )


def job_row(job: Job) -> JobRow:
    """Every field the read model keeps of a job, as the aggregate has it."""
    return JobRow(
        job.job_id,
        str(job.id),
        job.version,
        job.project_id,
        job.action,
        job.reference_id,
        job.description,
        job.status.value,
        job.error,
        epoch_ms(job.created_on),
        epoch_ms(job.modified_on),
        epoch_ms(job.start_at),
        None if job.lease_until is None else epoch_ms(job.lease_until),
        epoch_ms(job.respond_by),
    )

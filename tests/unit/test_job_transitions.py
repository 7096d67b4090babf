"""Every transition of the Job aggregate, legal and illegal."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import IllegalTransition, InvalidJobRequest, JobNotCancellable
from domain.job import DELETE_USER_DATA, Job, job_aggregate_id
from domain.lifecycle import JobStatus
from domain.redaction import without_user_id

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def scheduled_job(user_id: str = "alice@example.com", start_at: datetime = T0) -> Job:
    return Job.schedule_user_deletion(
        job_id=7,
        project_id=3,
        user_id=user_id,
        subject="s1",
        key_generation=0,
        start_at=start_at,
        actor="key:k1",
        at=T0,
    )


def job_in(status: JobStatus) -> Job:
    job = scheduled_job()
    if status is JobStatus.SCHEDULED:
        return job
    if status is JobStatus.CANCELLED:
        job.cancel(actor="key:k1", at=at(1))
        return job
    job.start(actor="worker:w1", at=at(1))
    if status is JobStatus.COMPLETED:
        job.complete(actor="worker:w1", attempt=1, at=at(2), remaining={})
    elif status is JobStatus.FAILED:
        job.fail(actor="worker:w1", attempt=1, error="disk full", at=at(2))
    return job


def test_scheduling_a_user_deletion_records_who_asked_what_and_when() -> None:
    job = scheduled_job(start_at=at(60))
    [event] = job.pending_events
    assert isinstance(event, Job.Scheduled)
    assert event.timestamp == T0
    assert (event.job_id, event.project_id, event.action) == (7, 3, DELETE_USER_DATA)
    assert event.reference_id == "alice@example.com"
    assert event.description == "Delete user sessions of userId = alice@example.com"
    assert event.start_at == at(60)
    assert event.actor == "key:k1"
    assert job.status is JobStatus.SCHEDULED
    assert job.id == job_aggregate_id(7)


@pytest.mark.parametrize("user_id", ["", "x" * 257])
def test_scheduling_with_an_empty_or_overlong_user_id_is_refused(user_id: str) -> None:
    with pytest.raises(InvalidJobRequest):
        scheduled_job(user_id)


def test_a_user_id_of_exactly_256_characters_is_accepted() -> None:
    assert scheduled_job("u" * 256).reference_id == "u" * 256


def test_a_job_id_must_be_positive() -> None:
    with pytest.raises(InvalidJobRequest):
        Job.schedule_user_deletion(
            job_id=0,
            project_id=1,
            user_id="u",
            subject="s",
            key_generation=0,
            start_at=T0,
            actor="a",
            at=T0,
        )


def test_starting_a_scheduled_job_makes_it_running() -> None:
    job = job_in(JobStatus.SCHEDULED)
    job.start(actor="worker:w1", at=at(5))
    assert job.status is JobStatus.RUNNING
    assert job.modified_on == at(5)
    assert isinstance(job.pending_events[-1], Job.Started)


def test_completing_a_running_job_makes_it_completed() -> None:
    job = job_in(JobStatus.RUNNING)
    job.complete(actor="worker:w1", attempt=1, at=at(5), remaining={})
    assert job.status is JobStatus.COMPLETED
    assert isinstance(job.pending_events[-1], Job.Completed)


def test_failing_a_running_job_records_the_error() -> None:
    job = job_in(JobStatus.RUNNING)
    job.fail(actor="worker:w1", attempt=1, error="permission denied", at=at(5))
    assert job.status is JobStatus.FAILED
    assert job.error == "permission denied"


@pytest.mark.parametrize("status", [JobStatus.SCHEDULED, JobStatus.RUNNING])
def test_cancelling_an_active_job_makes_it_cancelled(status: JobStatus) -> None:
    job = job_in(status)
    job.cancel(actor="key:k2", at=at(9))
    assert job.status is JobStatus.CANCELLED
    last = job.pending_events[-1]
    assert isinstance(last, Job.Cancelled)
    assert (last.actor, last.timestamp) == ("key:k2", at(9))


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancelling_a_finished_job_raises_job_not_cancellable(status: JobStatus) -> None:
    job = job_in(status)
    events_before = len(job.pending_events)
    with pytest.raises(JobNotCancellable):
        job.cancel(actor="key:k1", at=at(9))
    assert job.status is status
    assert len(job.pending_events) == events_before


Command = Callable[[Job], None]
START: Command = lambda job: job.start(actor="w", at=at(9))  # noqa: E731
COMPLETE: Command = lambda job: job.complete(  # noqa: E731
    actor="w", attempt=1, at=at(9), remaining={}
)
FAIL: Command = lambda job: job.fail(actor="w", attempt=1, error="e", at=at(9))  # noqa: E731

ILLEGAL = [
    (START, JobStatus.RUNNING),
    (START, JobStatus.COMPLETED),
    (START, JobStatus.FAILED),
    (START, JobStatus.CANCELLED),
    (COMPLETE, JobStatus.SCHEDULED),
    (COMPLETE, JobStatus.COMPLETED),
    (COMPLETE, JobStatus.FAILED),
    (COMPLETE, JobStatus.CANCELLED),
    (FAIL, JobStatus.SCHEDULED),
    (FAIL, JobStatus.COMPLETED),
    (FAIL, JobStatus.FAILED),
    (FAIL, JobStatus.CANCELLED),
]


@pytest.mark.parametrize(("command", "status"), ILLEGAL)
def test_an_illegal_lifecycle_command_raises_and_changes_nothing(
    command: Command, status: JobStatus
) -> None:
    job = job_in(status)
    version = job.version
    with pytest.raises(IllegalTransition):
        command(job)
    assert job.status is status
    assert job.version == version


def test_a_job_is_due_once_its_start_time_has_passed() -> None:
    job = scheduled_job(start_at=at(60))
    assert not job.is_due(at(59))
    assert job.is_due(at(60))
    job.cancel(actor="k", at=at(1))
    assert not job.is_due(at(61))


@pytest.mark.parametrize(
    ("message", "user_id", "kept"),
    [
        (
            "exports: 1/alice@x.io/f: Is a directory",
            "alice@x.io",
            "exports: 1/[user]/f: Is a directory",
        ),
        (
            "Key (user_id)=(bob smith) is still referenced",
            "bob smith",
            "Key (user_id)=([user]) is still referenced",
        ),
        ("path 1/bob%20smith: denied", "bob smith", "path 1/[user]: denied"),
        ("connection failed", "a", "connection failed"),
    ],
)
def test_an_error_kept_in_a_jobs_record_never_names_its_user(
    message: str, user_id: str, kept: str
) -> None:
    assert without_user_id(message, user_id) == kept

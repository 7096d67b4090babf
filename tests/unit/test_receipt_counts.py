"""A job's receipt: a record sent twice counts once; what a worker reports after it
lost the job is counted when its batch ended within its lease, kept apart as
unconfirmed when it ended after."""

import pytest

from domain.errors import NotTheOwner
from domain.job import Job
from tests.unit.test_job_transitions import at, scheduled_job

W1, W2 = "worker:w1", "worker:w2"


def started_by_w1() -> Job:
    job = scheduled_job()
    job.start(actor=W1, at=at(1), lease_until=at(30))
    return job


def taken_over_by_w2(job: Job) -> Job:
    job.take_over(actor=W2, at=at(60), lease_until=at(90))
    return job


def record(job: Job, actor: str, sessions: int, number: int | None, minute: int) -> None:
    """A batch's record, as the worker's attempt numbers it."""
    attempt = 1 if actor == W1 else 2
    job.record_batch(
        actor=actor,
        attempt=attempt,
        deleted={"sessions": sessions},
        at=at(minute),
        lease_until=at(minute + 30),
        record=number,
    )


def test_counts_reported_after_the_lease_stay_off_the_receipt() -> None:
    job = taken_over_by_w2(started_by_w1())
    record(job, W2, 3, None, 61)

    job.account_late(actor=W1, deleted={"sessions": 1}, unconfirmed={"sessions": 3}, at=at(62))

    assert job.deleted == {"sessions": 4}
    assert job.unconfirmed == {"sessions": 3}


def test_an_account_without_unconfirmed_counts_adds_to_the_receipt_only() -> None:
    job = taken_over_by_w2(started_by_w1())

    job.account_late(actor=W1, deleted={"sessions": 2}, at=at(61))

    assert job.deleted == {"sessions": 2}
    assert job.unconfirmed == {}
    assert job.collect_events()[-1].unconfirmed is None  # type: ignore[attr-defined]


def test_a_record_sent_again_under_its_number_counts_once() -> None:
    job = started_by_w1()
    record(job, W1, 4, 1, 2)
    record(job, W1, 4, 1, 2)  # the first commit's answer was lost: sent again
    record(job, W1, 1, 2, 3)

    assert job.deleted == {"sessions": 5}
    assert len([e for e in job.collect_events() if isinstance(e, Job.BatchDeleted)]) == 2


def test_a_new_attempt_numbers_its_records_anew() -> None:
    job = started_by_w1()
    record(job, W1, 3, 1, 2)
    taken_over_by_w2(job)

    record(job, W2, 2, 1, 61)

    assert job.deleted == {"sessions": 5}


def test_a_record_sent_again_after_a_takeover_counts_once_and_a_new_one_is_refused() -> None:
    job = started_by_w1()
    record(job, W1, 3, 1, 2)
    taken_over_by_w2(job)

    record(job, W1, 3, 1, 61)  # its answer was lost: sent again, after the takeover
    with pytest.raises(NotTheOwner):
        record(job, W1, 1, 2, 62)

    assert job.deleted == {"sessions": 3}

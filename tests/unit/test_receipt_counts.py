"""A job's receipt: a record sent twice counts once; what a worker reports after it
lost the job is counted when its batch ended within its lease, kept apart as
unconfirmed when it ended after."""

import pytest

from domain.errors import NotTheOwner
from domain.job import Job
from tests.unit.test_job_transitions import at, scheduled_job


def taken_over() -> Job:
    job = scheduled_job()
    job.start(actor="worker:w1", at=at(1), lease_until=at(30))
    job.take_over(actor="worker:w2", at=at(60), lease_until=at(90))
    return job


def test_counts_reported_after_the_lease_stay_off_the_receipt() -> None:
    job = taken_over()
    job.record_batch(
        actor="worker:w2", attempt=2, deleted={"exports": 3}, at=at(61), lease_until=at(91)
    )

    job.account_late(
        actor="worker:w1", deleted={"exports": 1}, unconfirmed={"exports": 3}, at=at(62)
    )

    assert job.deleted == {"exports": 4}
    assert job.unconfirmed == {"exports": 3}


def test_an_account_without_unconfirmed_counts_adds_to_the_receipt_only() -> None:
    job = taken_over()

    job.account_late(actor="worker:w1", deleted={"sessions": 2}, at=at(61))

    assert job.deleted == {"sessions": 2}
    assert job.unconfirmed == {}
    assert job.collect_events()[-1].unconfirmed is None  # type: ignore[attr-defined]


def test_a_record_sent_again_under_its_number_counts_once() -> None:
    job = scheduled_job()
    job.start(actor="worker:w1", at=at(1), lease_until=at(30))
    for _ in range(2):  # the first commit's answer was lost: sent again
        job.record_batch(
            actor="worker:w1",
            attempt=1,
            deleted={"sessions": 4},
            at=at(2),
            lease_until=at(31),
            record=1,
        )
    job.record_batch(
        actor="worker:w1",
        attempt=1,
        deleted={"sessions": 1},
        at=at(3),
        lease_until=at(32),
        record=2,
    )

    assert job.deleted == {"sessions": 5}
    assert len([e for e in job.collect_events() if isinstance(e, Job.BatchDeleted)]) == 2


def test_a_new_attempt_numbers_its_records_anew() -> None:
    job = scheduled_job()
    job.start(actor="worker:w1", at=at(1), lease_until=at(30))
    job.record_batch(
        actor="worker:w1",
        attempt=1,
        deleted={"sessions": 3},
        at=at(2),
        lease_until=at(31),
        record=1,
    )
    job.take_over(actor="worker:w2", at=at(60), lease_until=at(90))

    job.record_batch(
        actor="worker:w2",
        attempt=2,
        deleted={"sessions": 2},
        at=at(61),
        lease_until=at(91),
        record=1,
    )

    assert job.deleted == {"sessions": 5}


def test_a_record_sent_again_after_a_takeover_counts_once_and_a_new_one_is_refused() -> None:
    job = scheduled_job()
    job.start(actor="worker:w1", at=at(1), lease_until=at(30))
    job.record_batch(
        actor="worker:w1",
        attempt=1,
        deleted={"sessions": 3},
        at=at(2),
        lease_until=at(31),
        record=1,
    )
    job.take_over(actor="worker:w2", at=at(60), lease_until=at(90))

    job.record_batch(  # its answer was lost: sent again, after the takeover
        actor="worker:w1",
        attempt=1,
        deleted={"sessions": 3},
        at=at(61),
        lease_until=at(91),
        record=1,
    )
    with pytest.raises(NotTheOwner):
        job.record_batch(
            actor="worker:w1",
            attempt=1,
            deleted={"sessions": 1},
            at=at(62),
            lease_until=at(92),
            record=2,
        )

    assert job.deleted == {"sessions": 3}

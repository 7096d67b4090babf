"""What a worker reports after it lost the job: counted on the receipt when its batch
ended within its lease, kept apart as unconfirmed when it ended after."""

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

"""The invariant checker itself must be able to fail."""

from tests.invariants import illegal_step
from tests.unit.test_job_transitions import T0, at, scheduled_job


def events_of(job: object) -> list[object]:
    return list(job.collect_events())  # type: ignore[attr-defined]


def test_a_legal_history_passes() -> None:
    job = scheduled_job()
    job.start(actor="w", at=at(1), lease_until=at(5))
    job.record_batch(actor="w", attempt=1, deleted={"s": 1}, at=at(2), lease_until=at(6))
    job.cancel(actor="k", at=at(3))
    job.record_batch(actor="w", attempt=1, deleted={"s": 1}, at=at(4), lease_until=at(7))
    assert illegal_step(events_of(job)) is None


def test_two_terminal_events_fail() -> None:
    job = scheduled_job()
    first = events_of(job)
    job.cancel(actor="k", at=at(1))
    cancelled = events_of(job)
    assert illegal_step(first + cancelled + cancelled) is not None


def test_a_completion_without_a_start_fails() -> None:
    job = scheduled_job()
    scheduled = events_of(job)
    other = scheduled_job()
    other.start(actor="w", at=T0)
    other.complete(actor="w", attempt=1, at=at(1), remaining={})
    completed = events_of(other)[-1:]
    assert illegal_step(scheduled + completed) == "Completed after scheduled"


def test_a_batch_after_a_cancel_before_any_start_fails() -> None:
    job = scheduled_job()
    job.cancel(actor="k", at=at(1))
    history = events_of(job)
    runner = scheduled_job()
    runner.start(actor="w", at=T0)
    runner.record_batch(actor="w", attempt=1, deleted={"s": 1}, at=at(1), lease_until=at(2))
    assert illegal_step(history + events_of(runner)[-1:]) is not None

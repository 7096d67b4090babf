"""The use cases, on every backend: in memory, and the real event store and read model
on SQLite and PostgreSQL."""

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from application.errors import JobNotFound
from application.event_log import JobLog
from application.log_scheduling_store import LogSchedulingStore
from application.outcome import Outcome
from application.scheduling import ScheduleRequest, Scheduling
from domain.deadline import ONE_MONTH
from domain.errors import JobNotCancellable
from domain.job import Job, job_aggregate_id
from infrastructure.batches import Batches
from infrastructure.clock import SystemClock
from tests.application.bootstrap import Adapters, bootstrap
from tests.clocks import SteppingClock
from tests.scheduling import SchedulingCommands

NOON = datetime(2026, 3, 14, 12, 30, tzinfo=UTC)


def commands(
    adapters: Adapters, clock: SteppingClock, delay: timedelta | None
) -> SchedulingCommands:
    return bootstrap(adapters, clock, delay).commands


def project_jobs(adapters: Adapters, project_id: int) -> list[int]:
    return [row.job_id for row in adapters.read_model.every_job() if row.project_id == project_id]


def test_a_deletion_starts_at_the_next_utc_midnight_by_default(adapters: Adapters) -> None:
    clock = SteppingClock(NOON)
    outcome = commands(adapters, clock, None).schedule_user_deletion(1, "alice", "key:k")
    midnight = datetime(2026, 3, 15, tzinfo=UTC)
    assert outcome.job.start_at == int(midnight.timestamp() * 1000)
    assert outcome.job.created_at == outcome.job.updated_at


def test_an_operator_delay_of_zero_makes_the_job_due_at_once(adapters: Adapters) -> None:
    clock = SteppingClock(NOON)
    outcome = commands(adapters, clock, timedelta(0)).schedule_user_deletion(1, "bob", "key:k")
    assert outcome.job.start_at == outcome.job.created_at


def test_events_carry_the_injected_clock_time_not_the_wall_clock(adapters: Adapters) -> None:
    clock = SteppingClock(datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC))
    outcome = commands(adapters, clock, None).schedule_user_deletion(1, "carol", "key:k")
    job = adapters.log.job(outcome.job.job_id)
    assert job is not None
    assert job.created_on.year == 2001
    assert adapters.view(outcome.job.job_id).created_at == outcome.job.created_at


def test_job_ids_are_positive_unique_and_increasing(adapters: Adapters) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), None)
    ids = [use_cases.schedule_user_deletion(1, f"user-{n}", "k").job.job_id for n in range(20)]
    assert ids == sorted(set(ids))
    assert ids[0] >= 1


def test_a_second_request_for_an_active_user_returns_the_same_job(adapters: Adapters) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), None)
    first = use_cases.schedule_user_deletion(1, "dave", "key:a")
    second = use_cases.schedule_user_deletion(1, "dave", "key:b")
    assert second.job == first.job
    # Nothing new was written; the answer waits for the log as it was read, which
    # holds the first job.
    assert second.position == first.position
    assert project_jobs(adapters, 1) == [first.job.job_id]


def test_the_same_user_in_another_project_gets_its_own_job(adapters: Adapters) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), None)
    one = use_cases.schedule_user_deletion(1, "erin", "k")
    two = use_cases.schedule_user_deletion(2, "erin", "k")
    assert one.job.job_id != two.job.job_id


def test_once_the_active_job_is_cancelled_a_new_request_schedules_a_new_job(
    adapters: Adapters,
) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), None)
    first = use_cases.schedule_user_deletion(1, "frank", "k")
    use_cases.cancel(1, first.job.job_id, "k")
    second = use_cases.schedule_user_deletion(1, "frank", "k")
    assert second.job.job_id > first.job.job_id
    assert second.job.status == "scheduled"


def test_cancelling_a_job_of_another_project_is_not_found(adapters: Adapters) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), None)
    job = use_cases.schedule_user_deletion(1, "gina", "k").job
    with pytest.raises(JobNotFound):
        use_cases.cancel(2, job.job_id, "k")
    assert adapters.view(job.job_id).status == "scheduled"


def test_cancelling_twice_raises_the_domain_rule_and_writes_nothing(adapters: Adapters) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), None)
    job = use_cases.schedule_user_deletion(1, "hal", "k").job
    use_cases.cancel(1, job.job_id, "k")
    head = adapters.log.head()
    with pytest.raises(JobNotCancellable):
        use_cases.cancel(1, job.job_id, "k")
    assert adapters.log.head() == head


def kinds(events: Iterable[object]) -> list[type]:
    return [type(event) for event in events]


def test_the_full_lifecycle_is_recorded_in_the_log_in_order(adapters: Adapters) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), timedelta(0))
    job_id = use_cases.schedule_user_deletion(1, "ivy", "key:k").job.job_id
    use_cases.start(job_id, "worker:w")
    use_cases.fail(job_id, "worker:w", 1, "target unreachable")
    events = list(adapters.log.events.get(job_aggregate_id(job_id)))
    assert kinds(events) == [Job.Scheduled, Job.Started, Job.Failed]
    view = adapters.view(job_id)
    assert (view.status, view.errors) == ("failed", "target unreachable")


def test_a_command_retries_against_fresh_state_when_another_writer_won(
    adapters: Adapters,
) -> None:
    use_cases = commands(adapters, SteppingClock(NOON), timedelta(0))
    job_id = use_cases.schedule_user_deletion(1, "jack", "k").job.job_id
    # A stale copy of the job, changed and saved behind the command's back.
    stale = adapters.log.job(job_id)
    assert stale is not None
    original_get = JobLog.job
    calls = {"n": 0}

    def job_then_race(log: JobLog, wanted: int) -> Job | None:
        loaded = original_get(log, wanted)
        calls["n"] += 1
        if calls["n"] == 1:
            stale.start(actor="worker:other", at=NOON + timedelta(seconds=1))
            adapters.log.save(stale)
        return loaded

    adapters.log.job = job_then_race.__get__(adapters.log)  # type: ignore[method-assign]
    try:
        outcome = use_cases.cancel(1, job_id, "key:k")
    finally:
        del adapters.log.job
    assert calls["n"] == 2
    assert outcome.job.status == "cancelled"
    events = list(adapters.log.events.get(job_aggregate_id(job_id)))
    assert kinds(events) == [Job.Scheduled, Job.Started, Job.Cancelled]


def test_concurrent_requests_for_the_same_users_get_one_job_each(adapters: Adapters) -> None:
    # As the HTTP app has them: concurrent requests decided together on its event loop
    # (group commit), the log's calls in threads.
    store = LogSchedulingStore(
        adapters.log, adapters.job_ids, bootstrap(adapters, SystemClock()).read_your_writes, True
    )
    scheduling = Scheduling(store, adapters.log, SystemClock(), None, ONE_MONTH)
    users = [f"twin-{n % 8}" for n in range(24)]

    async def requests() -> list[int]:
        together: Batches[ScheduleRequest, Outcome] = Batches(scheduling.schedule)
        asked = [together.submit(ScheduleRequest(1, user, "key:k")) for user in users]
        return [outcome.job.job_id for outcome in await asyncio.gather(*asked)]

    answers: dict[str, set[int]] = {}
    for user, job_id in zip(users, asyncio.run(requests()), strict=True):
        answers.setdefault(user, set()).add(job_id)
    assert all(len(ids) == 1 for ids in answers.values())
    assert len({next(iter(ids)) for ids in answers.values()}) == 8
    listed = [adapters.view(job_id) for job_id in project_jobs(adapters, 1)]
    assert sorted(job.reference_id for job in listed) == sorted({*users})

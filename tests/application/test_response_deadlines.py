"""The deadline clock with an injected clock, on every backend (in memory, and the real
event store and read model on SQLite and PostgreSQL): what a request must be answered
by, how an extension may move it (and how far), and which jobs owe an answer."""

from datetime import UTC, datetime, timedelta

import pytest

from application.audit import JobHistory, compare, refold_all
from application.epoch import epoch_ms
from application.errors import JobNotFound
from domain.deadline import LATEST, ONE_MONTH, Period, Standing
from domain.errors import DeadlineNotExtended
from domain.job import Job, job_aggregate_id
from domain.request import FORGOTTEN
from tests.application.bootstrap import Adapters, bootstrap
from tests.clocks import SteppingClock

REQUESTED = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)  # a month later is 28 February
SECOND = timedelta(seconds=1)


class Office:
    """The use cases on one injected clock: requests come in, jobs run, time passes."""

    def __init__(self, adapters: Adapters, period: Period = ONE_MONTH) -> None:
        self.adapters = adapters
        self.clock = SteppingClock(REQUESTED)
        # No deletion delay: a job is due for a worker at once.
        self.use_cases = bootstrap(adapters, self.clock, timedelta(0), response_period=period)
        self.commands = self.use_cases.commands
        self.deadlines = self.use_cases.deadlines

    def request(self, user_id: str, project_id: int = 1) -> int:
        return self.commands.schedule_user_deletion(project_id, user_id, "key:k").job.job_id

    def complete(self, job_id: int) -> None:
        self.commands.start(job_id, "worker:w", self.clock.now() + timedelta(minutes=1))
        self.commands.complete(job_id, "worker:w", 1, {"sessions": 0})

    def fail(self, job_id: int) -> None:
        self.commands.start(job_id, "worker:w", self.clock.now() + timedelta(minutes=1))
        self.commands.fail(job_id, "worker:w", 1, "disk full")

    def extend(self, job_id: int, **move: object) -> int:
        reason = str(move.pop("reason", "The person's tickets are in an archive."))
        outcome = self.deadlines.extend(job_id, "operator:ann", reason, **move)  # type: ignore[arg-type]
        return outcome.job.due_by

    def due_by(self, job_id: int) -> int:
        return self.adapters.view(job_id).due_by


def ms(moment: datetime) -> int:
    return epoch_ms(moment)


def test_a_request_must_be_answered_a_calendar_month_after_it_was_received(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    outcome = office.commands.schedule_user_deletion(1, "alice", "key:k")
    month_later = datetime(2026, 2, 28, 10, 0, tzinfo=UTC) + timedelta(milliseconds=1)
    assert outcome.job.due_by == ms(month_later)  # the clock read once, 1 ms in
    assert office.due_by(outcome.job.job_id) == outcome.job.due_by


def test_a_shorter_deadline_is_recorded_with_the_request_and_a_later_setting_moves_it_not(
    adapters: Adapters,
) -> None:
    early = Office(adapters, Period(days=14)).request("alice")
    later = Office(adapters).request("bob")  # the operator went back to the default
    for job_id, period in ((early, Period(days=14)), (later, ONE_MONTH)):
        job = adapters.log.job(job_id)
        assert job is not None
        assert job.respond_by == period.after(job.created_on)
        assert adapters.view(job_id).due_by == ms(job.respond_by)


def test_an_extension_may_reach_exactly_three_months_after_the_request(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    job_id = office.request("alice")
    requested = adapters.log.job(job_id)
    assert requested is not None
    office.clock.advance(timedelta(days=10))
    latest = LATEST.after(requested.created_on)
    assert office.extend(job_id, until=latest) == ms(latest) == office.due_by(job_id)


def test_an_extension_one_second_past_three_months_is_refused_and_nothing_is_written(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    job_id = office.request("alice")
    requested = adapters.log.job(job_id)
    assert requested is not None
    head = adapters.log.head()
    with pytest.raises(DeadlineNotExtended, match="the latest the law allows"):
        office.extend(job_id, until=LATEST.after(requested.created_on) + SECOND)
    assert adapters.log.head() == head
    assert office.due_by(job_id) == ms(requested.respond_by)


def test_an_extension_moves_dueBy_and_updatedAt_and_keeps_the_reason_in_the_log(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    job_id = office.request("alice")
    office.clock.advance(timedelta(days=3))
    due_by = office.extend(job_id, by=ONE_MONTH, reason="Backups must be restored first.")
    view = adapters.view(job_id)
    assert view.due_by == due_by == ms(datetime(2026, 3, 28, 10, 0, tzinfo=UTC)) + 1
    assert view.updated_at > view.created_at  # an extension is a change of the job
    [extension] = [
        e for e in JobHistory(adapters.log).events(1, job_id) if e.type == "DeadlineExtended"
    ]
    assert extension.data["reason"] == "Backups must be restored first."
    assert extension.data["respondBy"] == due_by
    assert extension.actor == "operator:ann"
    assert list(compare(refold_all(adapters.log), adapters.read_model.every_job())) == []


def test_an_answered_request_cannot_be_extended_but_a_failed_one_can(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    answered, failed = office.request("alice"), office.request("bob")
    office.complete(answered)
    office.fail(failed)
    with pytest.raises(DeadlineNotExtended, match="is completed"):
        office.extend(answered)
    assert office.extend(failed) == ms(LATEST.after(REQUESTED)) + 2  # requested 2 ms in


def test_a_missed_deadline_cannot_be_extended_after_the_fact(adapters: Adapters) -> None:
    office = Office(adapters)
    job_id = office.request("alice")
    office.clock.advance(timedelta(days=29))  # 1 March: February's deadline has passed
    with pytest.raises(DeadlineNotExtended, match="has passed"):
        office.extend(job_id)


@pytest.mark.parametrize("reason", ["", "  "])
def test_an_extension_without_a_reason_is_refused(adapters: Adapters, reason: str) -> None:
    office = Office(adapters)
    job_id = office.request("alice")
    with pytest.raises(DeadlineNotExtended, match="needs a reason"):
        office.extend(job_id, reason=reason)


def test_an_unknown_job_cannot_be_extended(adapters: Adapters) -> None:
    with pytest.raises(JobNotFound):
        Office(adapters).extend(424242)


def test_the_jobs_owing_an_answer_are_listed_overdue_first_then_soon(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    first = office.request("alice")  # due 28 February
    office.clock.advance(timedelta(days=10))
    second = office.request("bob")  # due 10 March
    office.clock.advance(timedelta(days=10))
    later = office.request("carol")  # due 20 March
    answered = office.request("dave")
    office.complete(answered)
    failed = office.request("erin")
    office.fail(failed)  # due 20 March: not answered, so it still owes one
    now = datetime(2026, 3, 5, tzinfo=UTC)
    office.clock.current = now
    owing = office.deadlines.owing(within=timedelta(days=7))
    assert [(e.job.job_id, e.standing) for e in owing.entries] == [
        (first, Standing.OVERDUE),
        (second, Standing.SOON),
    ]
    assert owing.overdue == 1
    assert owing.entries[0].late_by == ms(now) + 1 - office.due_by(first)  # read 1 ms on
    everything = office.deadlines.owing(within=timedelta(days=30))
    assert {e.job.job_id for e in everything.entries} == {first, second, later, failed}
    assert office.deadlines.owing(within=timedelta(days=30), project_id=2).entries == []


def test_forgetting_the_user_forgets_the_reason_and_keeps_the_deadline(
    adapters: Adapters,
) -> None:
    office = Office(adapters)
    job_id = office.request("alice@example.com")
    office.fail(job_id)
    office.extend(job_id, reason="alice@example.com asked for her tickets too")
    office.clock.current = REQUESTED + timedelta(days=60)
    assert office.use_cases.forgetting.forget_due().jobs == 1
    events = adapters.log.history_of(job_aggregate_id(job_id))
    [extension] = [e for e in events if isinstance(e, Job.DeadlineExtended)]
    assert extension.reason == FORGOTTEN
    assert office.due_by(job_id) == ms(LATEST.after(REQUESTED)) + 1

"""The legal response deadline (GDPR Art. 12(3)): calendar months, the periods an
operator may set, and the rules of an extension, on the Job aggregate itself."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.deadline import (
    LATEST,
    ONE_MONTH,
    SOON,
    InvalidPeriod,
    Period,
    Standing,
    check_response_period,
    parse_period,
    standing,
    upcast_scheduled_v1_v2,
)
from domain.errors import DeadlineNotExtended
from domain.job import Job
from domain.lifecycle import JobStatus
from tests.unit.test_job_transitions import T0, job_in, scheduled_job

SECOND = timedelta(seconds=1)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_one_month_is_a_calendar_month_clamped_to_the_months_last_day() -> None:
    assert ONE_MONTH.after(utc(2026, 1, 31, 9, 30)) == utc(2026, 2, 28, 9, 30)
    assert ONE_MONTH.after(utc(2028, 1, 31, 9, 30)) == utc(2028, 2, 29, 9, 30)  # a leap year
    assert ONE_MONTH.after(utc(2026, 3, 14, 12, 30)) == utc(2026, 4, 14, 12, 30)
    assert ONE_MONTH.after(utc(2026, 12, 15)) == utc(2027, 1, 15)
    assert LATEST.after(utc(2026, 11, 30)) == utc(2027, 2, 28)


def test_a_period_counts_in_utc_whatever_zone_the_moment_is_written_in() -> None:
    paris = datetime.fromisoformat("2026-02-01T00:30:00+01:00")  # 31 January in UTC
    assert ONE_MONTH.after(paris) == utc(2026, 2, 28, 23, 30)


@given(moments)
def test_a_month_later_is_28_to_31_days_later_at_the_same_time_of_day(moment: datetime) -> None:
    later = ONE_MONTH.after(moment)
    assert timedelta(days=28) <= later - moment <= timedelta(days=31)
    assert later.time() == moment.time()


@given(moments, moments)
def test_a_later_request_never_has_an_earlier_deadline(one: datetime, other: datetime) -> None:
    first, second = sorted([one, other])
    assert ONE_MONTH.after(first) <= ONE_MONTH.after(second)
    assert LATEST.after(first) <= LATEST.after(second)


@pytest.mark.parametrize(
    ("written", "period"),
    [
        ("1 month", ONE_MONTH),
        (" 1 Month ", ONE_MONTH),
        ("P1M", ONE_MONTH),
        ("2 weeks", Period(days=14)),
        ("P2W", Period(days=14)),
        ("14 days", Period(days=14)),
        ("1day", Period(days=1)),
        ("p14d", Period(days=14)),
        ("2 months", Period(months=2)),
        ("P1M7D", Period(months=1, days=7)),
    ],
)
def test_a_period_is_written_in_words_or_in_iso_8601(written: str, period: Period) -> None:
    assert parse_period(written) == period


@pytest.mark.parametrize(
    "written", ["", "month", "1 fortnight", "P", "PT1H", "-1 month", "1.5 days"]
)
def test_a_period_jobtrail_cannot_read_is_refused_saying_how_to_write_one(written: str) -> None:
    with pytest.raises(InvalidPeriod, match=r"a period such as '1 month'"):
        parse_period(written)


@pytest.mark.parametrize("written", ["0 days", "P0D", "0 months"])
def test_a_period_of_nothing_is_refused(written: str) -> None:
    with pytest.raises(InvalidPeriod, match="longer than 0 days"):
        parse_period(written)


@pytest.mark.parametrize("written", ["1 month", "P1M", "28 days", "4 weeks", "1 day"])
def test_an_operator_may_answer_within_the_law_or_sooner(written: str) -> None:
    check_response_period(parse_period(written))


@pytest.mark.parametrize("written", ["29 days", "30 days", "5 weeks", "2 months", "P1M1D"])
def test_a_deadline_that_can_outlast_the_laws_month_is_refused(written: str) -> None:
    # 30 days from 31 January end on 2 March: past the month the law allows.
    with pytest.raises(InvalidPeriod, match=r"at most one month, as GDPR Art\. 12\(3\)"):
        check_response_period(parse_period(written))


def test_a_scheduled_job_must_be_answered_a_month_after_its_request_by_default() -> None:
    job = scheduled_job()
    assert job.respond_by == ONE_MONTH.after(T0)
    [event] = job.pending_events
    assert isinstance(event, Job.Scheduled) and event.respond_by == job.respond_by


def test_an_operator_period_is_fixed_into_the_request_when_it_is_received() -> None:
    job = Job.schedule_user_deletion(
        job_id=8,
        project_id=3,
        user_id="bob",
        subject="s2",
        key_generation=0,
        start_at=T0,
        actor="key:k1",
        at=T0,
        response_period=Period(days=14),
    )
    assert job.respond_by == T0 + timedelta(days=14)


def test_a_scheduled_event_from_before_deadlines_gets_the_laws_month() -> None:
    state: dict[str, object] = {"timestamp": "2026-01-31T08:00:00.250000Z", "job_id": 1}
    upcast_scheduled_v1_v2(state)
    respond_by = datetime.fromisoformat(str(state["respond_by"]))
    assert respond_by == utc(2026, 2, 28, 8) + timedelta(milliseconds=250)


def extended(job: Job, at: datetime, **move: object) -> datetime:
    job.extend_response_deadline(actor="operator:ann", at=at, reason="Backups", **move)  # type: ignore[arg-type]
    return job.respond_by


def test_an_extension_without_a_target_goes_to_the_latest_the_law_allows() -> None:
    job = scheduled_job()
    assert extended(job, T0 + SECOND) == LATEST.after(T0)
    event = job.pending_events[-1]
    assert isinstance(event, Job.DeadlineExtended)
    assert (event.reason, event.actor, event.respond_by) == (
        "Backups",
        "operator:ann",
        job.respond_by,
    )
    assert (event.subject, event.key_generation) == ("s1", 0)  # to seal the reason with


def test_an_extension_to_exactly_three_months_after_the_request_is_allowed() -> None:
    job = scheduled_job()
    assert extended(job, T0 + SECOND, until=LATEST.after(T0)) == utc(2026, 4, 1, 12, 0)


def test_an_extension_one_second_past_the_laws_limit_is_refused_and_changes_nothing() -> None:
    job = scheduled_job()
    with pytest.raises(DeadlineNotExtended, match="the latest the law allows"):
        extended(job, T0 + SECOND, until=LATEST.after(T0) + SECOND)
    with pytest.raises(DeadlineNotExtended, match="the latest the law allows"):
        extended(job, T0 + SECOND, by=Period(months=2, days=1))
    assert job.respond_by == ONE_MONTH.after(T0)
    assert len(job.pending_events) == 1


def test_extensions_add_up_but_never_past_the_laws_limit() -> None:
    job = scheduled_job()
    assert extended(job, T0 + SECOND, by=ONE_MONTH) == utc(2026, 3, 1, 12, 0)
    assert extended(job, T0 + 2 * SECOND, by=ONE_MONTH) == utc(2026, 4, 1, 12, 0)
    with pytest.raises(DeadlineNotExtended, match="latest the law allows already"):
        extended(job, T0 + 3 * SECOND)


def test_an_extension_must_move_the_deadline_later() -> None:
    job = scheduled_job()
    for earlier in (job.respond_by, job.respond_by - SECOND, T0 - SECOND):
        with pytest.raises(DeadlineNotExtended, match="must move the deadline later"):
            extended(job, T0 + SECOND, until=earlier)


def test_a_deadline_already_missed_cannot_be_extended() -> None:
    job = job_in(JobStatus.FAILED)
    with pytest.raises(DeadlineNotExtended, match="has passed"):
        extended(job, job.respond_by + SECOND)


def test_a_deadline_can_be_extended_up_to_its_last_moment() -> None:
    job = scheduled_job()
    assert extended(job, job.respond_by) == LATEST.after(T0)


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.CANCELLED])
def test_an_answered_or_withdrawn_request_has_no_deadline_to_extend(status: JobStatus) -> None:
    job = job_in(status)
    with pytest.raises(DeadlineNotExtended, match=f"is {status}"):
        extended(job, T0 + timedelta(days=1))


@pytest.mark.parametrize("status", [JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.FAILED])
def test_a_request_still_owing_an_answer_can_be_extended(status: JobStatus) -> None:
    job = job_in(status)
    assert extended(job, T0 + timedelta(days=1)) == LATEST.after(T0)


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("", "needs a reason"),
        ("   ", "needs a reason"),
        ("x" * 1001, "at most 1000 characters"),
        ("two\nlines", "without control characters"),
    ],
)
def test_an_extension_needs_a_reason_the_person_can_be_told(reason: str, why: str) -> None:
    job = scheduled_job()
    with pytest.raises(DeadlineNotExtended, match=why):
        job.extend_response_deadline(actor="operator:ann", at=T0 + SECOND, reason=reason)
    assert job.respond_by == ONE_MONTH.after(T0)


def test_a_forgotten_job_cannot_be_extended_its_reason_would_have_no_key() -> None:
    job = job_in(JobStatus.FAILED)
    job.forget_personal_data(actor="jobtrail:forget", at=T0 + timedelta(minutes=5))
    with pytest.raises(DeadlineNotExtended, match="no longer knows whose it is"):
        extended(job, T0 + timedelta(days=1))


def test_a_deadline_is_given_as_a_target_or_a_period_not_both() -> None:
    job = scheduled_job()
    with pytest.raises(DeadlineNotExtended, match="not both"):
        extended(job, T0 + SECOND, until=LATEST.after(T0), by=ONE_MONTH)


def test_where_a_job_stands_against_its_deadline() -> None:
    due = utc(2026, 2, 1)

    def stand(status: JobStatus, now: datetime, answered: datetime = due) -> Standing:
        return standing(status, due, answered, now, SOON)

    assert stand(JobStatus.SCHEDULED, due - timedelta(days=8)) is Standing.OPEN
    assert stand(JobStatus.RUNNING, due - timedelta(days=7)) is Standing.SOON
    assert stand(JobStatus.FAILED, due) is Standing.SOON  # the deadline's own moment: not late
    assert stand(JobStatus.FAILED, due + timedelta(milliseconds=1)) is Standing.OVERDUE
    assert stand(JobStatus.COMPLETED, due + timedelta(days=9)) is Standing.ON_TIME
    assert stand(JobStatus.COMPLETED, due, due + SECOND) is Standing.LATE
    assert stand(JobStatus.CANCELLED, due + timedelta(days=9)) is Standing.WITHDRAWN

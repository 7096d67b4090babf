"""JOBTRAIL_RESPONSE_DEADLINE: the law's month by default, shorter if the operator
wants, and a one-line refusal at start for anything else."""

import pytest

from domain.deadline import ONE_MONTH, Period
from infrastructure.settings import Settings, SettingsError


def period_of(written: str) -> Period:
    return Settings.from_env({"JOBTRAIL_RESPONSE_DEADLINE": written}).response_period


def test_by_default_a_request_must_be_answered_within_one_calendar_month() -> None:
    assert Settings().response_period == ONE_MONTH
    assert Settings.from_env({}).response_period == ONE_MONTH


def test_an_operator_may_set_a_shorter_deadline_in_words_or_iso_8601() -> None:
    assert period_of("2 weeks") == Period(days=14)
    assert period_of("P21D") == Period(days=21)
    assert period_of("1 month") == ONE_MONTH


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "soon",
            "JOBTRAIL_RESPONSE_DEADLINE must be a period such as '1 month', '2 weeks', "
            "'14 days' or ISO 8601 'P1M', 'P2W', 'P14D', not 'soon'.",
        ),
        ("0 days", "JOBTRAIL_RESPONSE_DEADLINE must be a period longer than 0 days, not '0 days'."),
        (
            "30 days",
            "JOBTRAIL_RESPONSE_DEADLINE must be at most one month, as GDPR Art. 12(3) allows "
            "('1 month', or up to 28 days: more days can outlast a month), not '30 days'.",
        ),
        (
            "3 months",
            "JOBTRAIL_RESPONSE_DEADLINE must be at most one month, as GDPR Art. 12(3) allows "
            "('1 month', or up to 28 days: more days can outlast a month), not '3 months'.",
        ),
    ],
)
def test_a_deadline_jobtrail_cannot_use_is_refused_at_start_in_one_line(
    written: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"JOBTRAIL_RESPONSE_DEADLINE": written})
    assert str(refused.value) == message

"""The legal response deadline of a deletion request, in one place (GDPR Art. 12(3)).

A request must be answered within one month of its receipt; the controller may
extend that by two further months where necessary, telling the person why within
the first month. So every job carries the moment it must be answered by (its
*response deadline*, ``dueBy`` in the API), fixed when the request is received and
recorded in the log: a later change of the setting moves no existing deadline.

Not to be confused with ``domain.lifecycle``'s "due": when a job is due *for a
worker* to run it. This module never says "due" alone.

Months are calendar months in UTC, as the law counts them: 31 January plus one
month is 28 (or 29) February, never 2 or 3 March. Days are whole days of 24 hours.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.errors import DeadlineNotExtended
from domain.lifecycle import JobStatus
from domain.request import has_control_characters


class InvalidPeriod(ValueError):
    """A period that is not written in a way jobtrail reads, or that is not positive."""


@dataclass(frozen=True, slots=True)
class Period:
    """A length of time as the law counts it: calendar months, then days."""

    months: int = 0
    days: int = 0

    def after(self, moment: datetime) -> datetime:
        """``moment`` moved on by this period, in UTC; the day of the month is
        clamped to the month's last (31 January + 1 month = 28/29 February)."""
        moment = moment.astimezone(UTC)
        index = moment.year * 12 + moment.month - 1 + self.months
        year, month = divmod(index, 12)
        last_day = calendar.monthrange(year, month + 1)[1]
        moved = moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))
        return moved + timedelta(days=self.days)

    def __str__(self) -> str:
        parts = [_counted(self.months, "month"), _counted(self.days, "day")]
        return " ".join(part for part in parts if part) or "0 days"


def _counted(count: int, unit: str) -> str:
    return "" if count == 0 else f"{count} {unit}{'' if count == 1 else 's'}"


ONE_MONTH = Period(months=1)
"""The law's time to answer, and the default response deadline."""
LATEST = Period(months=3)
"""The law's one month and its two further months: no deadline may lie later after
the request's receipt, however it was extended."""
LONGEST_IN_DAYS = 28
"""The most days a deadline set in days may be: 29 days or more can be longer than a
month (from 31 January, 30 days end on 2 March)."""
SOON = timedelta(days=7)
"""How close a deadline is "soon": the dashboard, /metrics and ``jobs overdue``."""
MAX_REASON_LENGTH = 1000

PERIOD_FORMAT = "'1 month', '2 weeks', '14 days' or ISO 8601 'P1M', 'P2W', 'P14D'"
_WORDS = re.compile(r"(\d{1,4}) *(month|week|day)s?", re.IGNORECASE)
_ISO = re.compile(r"P(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,4})D)?", re.IGNORECASE)


def parse_period(text: str) -> Period:
    """A period written as a count and a unit (``1 month``, ``2 weeks``, ``14 days``)
    or in ISO 8601 (``P1M``, ``P2W``, ``P14D``, ``P1M7D``); InvalidPeriod otherwise."""
    text = text.strip()
    words = _WORDS.fullmatch(text)
    iso = _ISO.fullmatch(text)
    if words is not None:
        count, unit = int(words.group(1)), words.group(2).lower()
        period = Period(months=count) if unit == "month" else Period(days=count)
        period = Period(days=count * 7) if unit == "week" else period
    elif iso is not None and any(iso.groups()):
        months, weeks, days = (int(group or 0) for group in iso.groups())
        period = Period(months=months, days=weeks * 7 + days)
    else:
        raise InvalidPeriod(f"a period such as {PERIOD_FORMAT}")
    if period.months == 0 and period.days == 0:
        raise InvalidPeriod("a period longer than 0 days")
    return period


def check_response_period(period: Period) -> None:
    """An operator may answer sooner than the law asks, never later: InvalidPeriod
    for a period that can be longer than one month."""
    if period == ONE_MONTH or (period.months == 0 and period.days <= LONGEST_IN_DAYS):
        return
    raise InvalidPeriod(
        f"at most one month, as GDPR Art. 12(3) allows ('1 month', or up to "
        f"{LONGEST_IN_DAYS} days: more days can outlast a month)"
    )


def awaits_answer(status: JobStatus) -> bool:
    """A completed job answered its request and a cancelled one was withdrawn; any
    other still owes an answer (a failed job has not deleted the data)."""
    return status not in (JobStatus.COMPLETED, JobStatus.CANCELLED)


class Standing(StrEnum):
    """Where a job stands against its response deadline."""

    OVERDUE = "overdue"
    SOON = "due soon"
    OPEN = "open"
    ON_TIME = "answered on time"
    LATE = "answered late"
    WITHDRAWN = "withdrawn"


def standing(
    status: JobStatus, respond_by: datetime, answered_at: datetime, now: datetime, soon: timedelta
) -> Standing:
    """``answered_at``: when a completed or cancelled job ended (its last change).

    A job owing an answer is overdue once its deadline has passed (not at it), and
    due soon from ``soon`` before it."""
    if status is JobStatus.CANCELLED:
        return Standing.WITHDRAWN
    if status is JobStatus.COMPLETED:
        return Standing.ON_TIME if answered_at <= respond_by else Standing.LATE
    if respond_by < now:
        return Standing.OVERDUE
    return Standing.SOON if respond_by <= now + soon else Standing.OPEN


def extended_deadline(
    status: JobStatus,
    requested_at: datetime,
    respond_by: datetime,
    *,
    at: datetime,
    reason: str,
    until: datetime | None = None,
    by: Period | None = None,
    sealable: bool = True,
) -> datetime:
    """The deadline an extension moves ``respond_by`` to: ``until``, or ``by`` past it,
    or (neither given) the latest the law allows; DeadlineNotExtended for one the law
    or jobtrail refuses.

    ``sealable``: whether the job still has its user's data key to seal the reason
    with (not once the user is forgotten, nor for a job from before sealing, ADR 18)."""
    latest = LATEST.after(requested_at)
    if not sealable:
        raise DeadlineNotExtended("The job no longer knows whose it is: its deadline cannot move.")
    check_reason(reason)
    if not awaits_answer(status):
        raise DeadlineNotExtended(f"The job is {status}: it has no deadline left to extend.")
    if respond_by < at:
        raise DeadlineNotExtended(
            f"The deadline {_shown(respond_by)} has passed: an extension must be made, and "
            "the person told why, before it (GDPR Art. 12(3))."
        )
    if until is not None and by is not None:
        raise DeadlineNotExtended("Give the new deadline or the time to add to it, not both.")
    moved = latest if by is None else by.after(respond_by)
    moved = moved if until is None else until
    if moved > latest:
        raise DeadlineNotExtended(
            f"{_shown(moved)} is past {_shown(latest)}, the latest the law allows (three "
            "months after the request: one month and two further months)."
        )
    if moved <= respond_by:
        raise DeadlineNotExtended(
            f"An extension must move the deadline later than {_shown(respond_by)}"
            + (" (it is the latest the law allows already)." if respond_by == latest else ".")
        )
    return moved


def check_reason(reason: str) -> None:
    if not reason.strip():
        raise DeadlineNotExtended("An extension needs a reason: the person must be told why.")
    if len(reason) > MAX_REASON_LENGTH:
        raise DeadlineNotExtended(f"A reason is at most {MAX_REASON_LENGTH} characters.")
    if has_control_characters(reason):
        raise DeadlineNotExtended("A reason is one line, without control characters.")


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def upcast_scheduled_v1_v2(state: dict[str, object]) -> None:
    """A Scheduled event stored before deadlines were recorded: its request was
    received under the law's one month, so that is its deadline. (The stored state
    holds the event's time as ISO 8601 text, as it is upcast before being typed.)"""
    timestamp = state["timestamp"]
    received = timestamp if isinstance(timestamp, datetime) else None
    if received is None:
        received = datetime.fromisoformat(str(timestamp))
    state["respond_by"] = ONE_MONTH.after(received).isoformat()

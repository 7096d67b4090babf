"""The dashboard's plot of requests and answers against their response deadlines:
one row per job, a bar from its request to its answer (or to now, while it owes
one), a tick at its deadline. Drawn on the server as SVG (the dashboard's policy
allows no script); the template only places the numbers computed here."""

from dataclasses import dataclass
from datetime import datetime

from application.deadlines import DeadlineEntry, OwingAnswers, deadline_entry
from application.epoch import epoch_ms
from application.job_records import JobView
from domain.deadline import SOON, Standing

ROWS = 24
"""The most jobs one plot shows: those owing an answer most urgently, then the page's."""
WIDTH, LABELS, ROW, TOP = 800, 64, 22, 24
"""The SVG's own units: its width, the room for job labels, a row's height, the axis."""


@dataclass(frozen=True, slots=True)
class Bar:
    job_id: int
    y: int
    start: float
    end: float
    deadline: float
    standing: Standing
    title: str

    @property
    def css(self) -> str:
        return "bar-" + self.standing.value.replace(" ", "-")


@dataclass(frozen=True, slots=True)
class DeadlineChart:
    bars: list[Bar]
    now: float
    height: int
    first: int
    last: int
    overdue: int
    soon: int
    more_owing: bool
    """More jobs owe an answer than the counts could read (they are lower bounds)."""

    width = WIDTH
    left = LABELS


def deadline_chart(owing: OwingAnswers, page: list[JobView], now: datetime) -> DeadlineChart:
    urgent = owing.entries[:ROWS]
    shown = {entry.job.job_id for entry in urgent}
    rest = [deadline_entry(job, now) for job in page if job.job_id not in shown]
    entries = urgent + rest[: ROWS - len(urgent)]
    now_ms = epoch_ms(now)
    moments = [now_ms] + [m for e in entries for m in (e.job.created_at, e.job.due_by, _end(e))]
    first, last = min(moments), max(moments)
    span = max(last - first, 1)

    def x(ms: int) -> float:
        return round(LABELS + (ms - first) / span * (WIDTH - LABELS - 8), 1)

    bars = [
        Bar(
            e.job.job_id,
            TOP + index * ROW,
            x(e.job.created_at),
            max(x(_end(e)), x(e.job.created_at) + 2),  # an instant answer still shows
            x(e.job.due_by),
            e.standing,
            _title(e),
        )
        for index, e in enumerate(entries)
    ]
    return DeadlineChart(
        bars,
        x(now_ms),
        TOP + len(bars) * ROW + 4,
        first,
        last,
        owing.overdue,
        sum(entry.standing is Standing.SOON for entry in owing.entries),
        owing.cut,
    )


def _end(entry: DeadlineEntry) -> int:
    """When the request was answered (or withdrawn), or now while it owes an answer."""
    return entry.job.due_by + entry.late_by


def _title(entry: DeadlineEntry) -> str:
    days = abs(entry.late_by) / 86_400_000
    when = {
        Standing.OVERDUE: f"overdue by {days:.1f} days",
        Standing.SOON: f"due in {days:.1f} days",
        Standing.OPEN: f"due in {days:.0f} days",
        Standing.ON_TIME: f"answered {days:.1f} days before its deadline",
        Standing.LATE: f"answered {days:.1f} days after its deadline",
        Standing.WITHDRAWN: "withdrawn (cancelled)",
    }[entry.standing]
    return f"Job #{entry.job.job_id}: {when}"


SOON_DAYS = round(SOON.total_seconds() / 86_400)

"""The response deadline's use cases: extend a job's, and list the jobs that owe
their request an answer, overdue or soon (the rules are domain.deadline's)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from application.commands import JobCommands
from application.epoch import epoch_ms, moment_of
from application.job_records import JobView
from application.outcome import Outcome
from application.ports import Clock, JobsReadModel
from domain.deadline import SOON, Period, Standing, standing
from domain.lifecycle import JobStatus

MAX_LISTED = 10_000
"""The most jobs one listing holds: an installation with more overdue than that has
a bigger problem than a long list, and the list says it was cut."""


@dataclass(frozen=True, slots=True)
class DeadlineEntry:
    """A job against its deadline, as it stood at ``now`` (times in epoch ms)."""

    job: JobView
    standing: Standing
    now: int

    @property
    def late_by(self) -> int:
        """How long past the deadline: now, or when it was answered (negative: ahead)."""
        answered = self.standing in (Standing.ON_TIME, Standing.LATE, Standing.WITHDRAWN)
        return (self.job.updated_at if answered else self.now) - self.job.due_by

    @property
    def is_overdue(self) -> bool:
        return self.standing is Standing.OVERDUE


def deadline_entry(job: JobView, now: datetime, soon: timedelta = SOON) -> DeadlineEntry:
    return DeadlineEntry(
        job,
        standing(
            JobStatus(job.status), moment_of(job.due_by), moment_of(job.updated_at), now, soon
        ),
        epoch_ms(now),
    )


@dataclass(frozen=True, slots=True)
class OwingAnswers:
    entries: list[DeadlineEntry]
    """Overdue first (the longest overdue first), then due soon, by deadline."""
    cut: bool
    """More matched than MAX_LISTED: the listing holds the most urgent."""

    @property
    def overdue(self) -> int:
        return sum(entry.is_overdue for entry in self.entries)

    @classmethod
    def listed(cls, views: list[JobView], now: datetime, within: timedelta) -> "OwingAnswers":
        """From the read model's jobs owing an answer by ``now + within``, soonest
        first, of which at most MAX_LISTED + 1 were read."""
        entries = [deadline_entry(view, now, within) for view in views[:MAX_LISTED]]
        return cls(entries, cut=len(views) > MAX_LISTED)


class Deadlines:
    def __init__(self, commands: JobCommands, read_model: JobsReadModel, clock: Clock) -> None:
        self._commands = commands
        self._read_model = read_model
        self._clock = clock

    def extend(
        self,
        job_id: int,
        actor: str,
        reason: str,
        until: datetime | None = None,
        by: Period | None = None,
    ) -> Outcome:
        """To ``until``, or ``by`` past the deadline, or (neither) to the latest the law
        allows; DeadlineNotExtended when a rule refuses, and nothing is recorded."""
        return self._commands.change(
            job_id,
            lambda job: job.extend_response_deadline(
                actor=actor, at=self._clock.now(), reason=reason, until=until, by=by
            ),
        )

    def owing(self, within: timedelta = SOON, project_id: int | None = None) -> OwingAnswers:
        """The jobs that owe an answer and are overdue, or due within ``within``."""
        now = self._clock.now()
        views = self._read_model.owing_answers(project_id, epoch_ms(now + within), MAX_LISTED + 1)
        return OwingAnswers.listed(views, now, within)

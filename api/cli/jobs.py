"""``jobtrail jobs``: the legal response deadline of deletion requests (GDPR Art. 12(3)).

``extend`` moves one job's deadline, with the reason the person must be told;
``overdue`` lists the jobs that owe an answer and are late or soon due. Neither
prints a user id: job ids, projects and times only.
"""

import getpass
import json
import sys
from datetime import UTC, datetime, timedelta

import click
import msgspec

from api.cli.audit import TIME
from api.cli.support import open_services, project_named
from api.composition import Services
from api.wording import counted
from application.deadlines import DeadlineEntry, Deadlines
from application.epoch import moment_of
from application.errors import JobNotFound
from domain.deadline import LATEST, MAX_REASON_LENGTH, SOON, InvalidPeriod, parse_period
from domain.errors import DeadlineNotExtended

_DAY_MS = 86_400_000


@click.group()
def jobs() -> None:
    """The legal response deadline of deletion jobs: extend it, list the late."""


def _deadlines(services: Services) -> Deadlines:
    return Deadlines(services.commands, services.read_model, services.clock)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's numeric user)
        return "unknown"


@jobs.command("extend")
@click.argument("job_id", type=int)
@click.option(
    "--reason",
    required=True,
    help=f"Why the answer needs longer; the person must be told (at most {MAX_REASON_LENGTH} "
    "characters; sealed with the user's key, so forgetting the user forgets it).",
)
@click.option(
    "--by", "by", metavar="PERIOD", help="Add this to the deadline: '1 month', '14 days'."
)
@click.option("--until", "until", type=TIME, help="The new deadline: ISO 8601 (UTC) or epoch ms.")
@click.option("--operator", default=_operator, show_default="your login name", help="Who extends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as the API shows it.")
def extend(
    job_id: int, reason: str, by: str | None, until: int | None, operator: str, as_json: bool
) -> None:
    """Move JOB_ID's response deadline later, keeping the reason in the log.

    Without --by or --until, to the latest the law allows: three months after the
    request (its one month and two further months). Refused, and nothing recorded,
    once the deadline has passed, for a completed or cancelled job, for a deadline
    that is not later, or past that limit. Exit 0 when extended, 1 when refused."""
    if by is not None and until is not None:
        raise click.UsageError("Give --by or --until, not both.")
    try:
        period = None if by is None else parse_period(by)
    except InvalidPeriod as error:
        raise click.BadParameter(f"must be {error}.", param_hint="--by") from None
    moment = None if until is None else moment_of(until)
    with open_services(quiet=as_json) as services:
        before = services.log.job(job_id)
        try:
            outcome = _deadlines(services).extend(
                job_id, f"operator:{operator}", reason, until=moment, by=period
            )
        except JobNotFound:
            raise click.ClickException(f"No job {job_id}.") from None
        except DeadlineNotExtended as error:
            raise click.ClickException(
                f"Job {job_id}'s deadline was not extended: {error}"
            ) from None
    if as_json:
        click.echo(msgspec.json.encode(outcome.job).decode())
        return
    assert before is not None
    click.echo(
        f"Job {job_id} must now be answered by {_iso(outcome.job.due_by)} (it was "
        f"{_iso_moment(before.respond_by)}; the law allows no later than "
        f"{_iso_moment(LATEST.after(before.created_on))}). Tell the person of the "
        "extension and why."
    )


@jobs.command("overdue")
@click.option(
    "--within",
    type=click.FloatRange(min=0),
    default=SOON / timedelta(days=1),
    show_default=True,
    help="Also list jobs due within this many days.",
)
@click.option("--project", "project_key", help="Only this project (default: every project).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def overdue(within: float, project_key: str | None, as_json: bool) -> None:
    """The jobs that owe their request an answer (neither completed nor cancelled)
    and are past their deadline, or due within --within days: most overdue first.

    Exit 0 when no job is overdue (jobs due soon alone do not count), 1 when one is
    or more are."""
    with open_services(read_only=True, quiet=as_json) as services:
        projects = {project.id: project for project in services.tenancy.projects()}
        project_id = None
        if project_key is not None:
            project_id = project_named(services, project_key).id
        owing = _deadlines(services).owing(timedelta(days=within), project_id)
    keys = {project_id: project.project_key for project_id, project in projects.items()}
    if as_json:
        click.echo(json.dumps([_plain(entry, keys) for entry in owing.entries]))
    else:
        for entry in owing.entries:
            click.echo(_line(entry, keys))
        soon = len(owing.entries) - owing.overdue
        days = f"{within:g} day{'' if within == 1 else 's'}"
        click.echo(f"{counted(owing.overdue, 'job')} overdue, {soon} due within {days}.")
    if owing.cut:
        click.echo(f"Only the {len(owing.entries)} most urgent jobs are listed.", err=True)
    sys.exit(1 if owing.overdue else 0)


def _plain(entry: DeadlineEntry, keys: dict[int, str]) -> dict[str, object]:
    job = entry.job
    return {
        "jobId": job.job_id,
        "projectId": job.project_id,
        "projectKey": keys.get(job.project_id),
        "status": job.status,
        "createdAt": job.created_at,
        "dueBy": job.due_by,
        "standing": str(entry.standing),
        "lateByMs": entry.late_by,
    }


def _line(entry: DeadlineEntry, keys: dict[int, str]) -> str:
    job = entry.job
    late = entry.late_by
    how = f"overdue by {_span(late)}" if entry.is_overdue else f"due in {_span(-late)}"
    return (
        f"job {job.job_id}  project {keys.get(job.project_id, job.project_id)}  {job.status}  "
        f"requested {_iso(job.created_at)}  due {_iso(job.due_by)}  {how}"
    )


def _span(ms: int) -> str:
    """``3 days 4 hours``, ``5 hours 2 minutes``, ``40 seconds``: two units at most."""
    units = [("day", _DAY_MS), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000)]
    parts: list[str] = []
    for name, size in units:
        count, ms = divmod(ms, size)
        if count or parts:
            parts.append(counted(count, name))
        if len(parts) == 2:
            break
    return " ".join(part for part in parts if not part.startswith("0 ")) or "less than a second"


def _iso(ms: int) -> str:
    return _iso_moment(moment_of(ms))


def _iso_moment(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

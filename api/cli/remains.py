"""``jobtrail targets find``: where a person still appears, on the command line; and
how ``audit prove`` shows the last search kept on a job."""

import json
import sys
from datetime import UTC, datetime

import click

from api.cli.support import checked_targets, open_services, project_named
from api.wording import counted
from application.audit import plain
from application.errors import DamagedRecord
from application.identities import SearchFailed
from application.remains import RemainsReport, find_remains, record_search
from domain.errors import InvalidJobRequest
from domain.remains import RemainsPlace, RemainsSearch

_SEARCHED = {
    "targets": ("target", None),
    "databases": ("database", None),
    "columns": ("column", None),
    "targetColumns": ("column counted by its target", "columns counted by their targets"),
    "clickhouseServers": ("ClickHouse server", None),
    "objectPatterns": ("object pattern", None),
}


@click.command("find")
@click.argument("user_id")
@click.option("--project", "project_key", required=True, help="The project (its key).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def targets_find(user_id: str, project_key: str, as_json: bool) -> None:
    """Search every store the targets name for USER_ID in the project: each target's
    own count, every text-like column of every table of their SQL databases and
    ClickHouse servers, and the objects of the person's sessions.

    Prints one line per place the person still appears, and whether a target
    covers it; exit 1 if anywhere. The result is kept (places and counts, no ids)
    on the user's last ended deletion job, which `jobtrail audit prove` shows."""
    from infrastructure.remains_search import TargetsRemains

    with open_services(read_only=True) as services:
        project = project_named(services, project_key)
        checked = checked_targets(services)
        searcher = TargetsRemains(checked.config, services.database, checked.targets)
        try:
            report = find_remains(searcher, project.id, user_id)
        except InvalidJobRequest as error:
            raise click.BadParameter(str(error), param_hint="USER_ID") from None
        except SearchFailed as error:
            raise click.ClickException(f"Cannot search {error}; nothing is proven.") from None
        finally:
            searcher.close()
        try:
            kept_on = record_search(services.log, services.commands, project.id, user_id, report)
        except DamagedRecord as damaged:
            kept_on = None
            click.echo(f"Not kept: {damaged}", err=True)
    _print(report, project_key, kept_on, as_json)
    sys.exit(0 if report.nothing_left else 1)


def _print(report: RemainsReport, project_key: str, kept_on: int | None, as_json: bool) -> None:
    findings = report.findings
    if as_json:
        record = {
            "project": project_key,
            "nothingLeft": report.nothing_left,
            "places": plain(findings.places),
            "searched": findings.searched,
            "identities": report.identities,
            "keptOnJob": kept_on,
        }
        click.echo(json.dumps(record))
        return
    for place in findings.places:
        click.echo(place_line(place))
    if report.nothing_left:
        click.echo(f"Nothing of this user left in project {project_key}.")
    ids = report.identities
    click.echo(
        f"Searched {searched_words(findings.searched)}, for the user id, "
        f"{counted(ids['anonymousIds'], 'anonymous id')} and "
        f"{counted(ids['sessionIds'], 'session id')}"
        + (
            f" ({counted(ids['sharedAnonymousIds'], 'anonymous id')} passed over: "
            f"another user's sessions carry {'it' if ids['sharedAnonymousIds'] == 1 else 'them'}"
            " too)."
            if ids["sharedAnonymousIds"]
            else "."
        ),
        err=True,
    )
    if not ids["sessionIds"]:
        click.echo(
            "No session of this user is left to read their anonymous ids and session keys "
            "from: only the user id was searched for (run find before a job, too).",
            err=True,
        )
    if kept_on is not None:
        click.echo(f"Kept on job {kept_on} (jobtrail audit prove shows it).", err=True)
    else:
        click.echo(
            f"Not kept: this user has no ended deletion job in project {project_key}.", err=True
        )


def place_line(place: RemainsPlace) -> str:
    covered = (
        f"covered by target {place.covered_by}" if place.covered_by else "not covered by any target"
    )
    amount = counted(place.count, place.unit.removesuffix("s"), place.unit)
    anywhere = "  (no project column: of any project)" if place.any_project else ""
    return f"{place.store}  {place.location}  {amount}  {covered}{anywhere}"


def searched_words(searched: dict[str, int]) -> str:
    return ", ".join(
        counted(count, *_SEARCHED.get(kind, (kind, None))) for kind, count in searched.items()
    )


def search_line(search: RemainsSearch) -> str:
    """A job's last search, for ``audit prove``."""
    when = datetime.fromtimestamp(search.at.timestamp(), UTC).isoformat(timespec="seconds")
    if search.nothing_left:
        return f"  remains searched {when}: nothing left ({searched_words(search.searched)})"
    places = "; ".join(place_line(place) for place in search.places)
    return f"  remains searched {when}: {counted(len(search.places), 'place')}: {places}"

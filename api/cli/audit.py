"""``jobtrail history``, ``verify`` and ``audit``: the evidence, for operators and auditors."""

import dataclasses
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.table import Table

from api.cli.support import open_services, project_named
from application.audit import DamagedEntry, JobHistory, TimelineEntry, compare, refold_all
from application.epoch import moment_ms
from application.errors import DamagedRecord, JobNotFound
from application.job_records import JobView
from infrastructure.audit_export import export_lines
from infrastructure.chain import verify_chain


def parse_time(text: str) -> int:
    """Epoch milliseconds, or an ISO 8601 time (UTC when it names no zone)."""
    moment = moment_ms(text)
    if moment is None:
        raise click.BadParameter(f"{text!r} is neither epoch milliseconds nor ISO 8601.")
    return moment


class _TimeParam(click.ParamType[int]):
    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return value if isinstance(value, int) else parse_time(str(value))


TIME = _TimeParam()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@click.command()
@click.argument("job_id", type=int)
@click.option("--at", "at", type=TIME, help="Show the job as it was at this time.")
@click.option("--version", "version", type=click.IntRange(1), help="...or after this event.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(job_id: int, at: int | None, version: int | None, as_json: bool) -> None:
    """A job's timeline from the event log: time, event, actor, status after it.

    An event that cannot be read (or is missing) is shown in its place as DAMAGED,
    every other event still is, and the command exits 1 naming the damage."""
    if at is not None and version is not None:
        raise click.UsageError("Give --at or --version, not both.")
    with open_services(read_only=True) as services:
        try:
            timeline = services.history.readable_timeline(job_id)
            state = _state_then(services.history, job_id, at, version)
        except JobNotFound as error:
            found_not = str(error) if type(error) is not JobNotFound else f"No job {job_id}."
            raise click.ClickException(found_not) from None
    if at is not None:
        timeline = [e for e in timeline if isinstance(e, DamagedEntry) or e.event.at <= at]
    if version is not None:
        timeline = [e for e in timeline if _version(e) <= version]
    damage = [entry for entry in timeline if isinstance(entry, DamagedEntry)]
    readable = [entry for entry in timeline if isinstance(entry, TimelineEntry)]
    if as_json:
        record: dict[str, Any] = {
            "jobId": job_id,
            "events": [
                {**msgspec.to_builtins(entry.event), "statusAfter": entry.status_after}
                for entry in readable
            ],
        }
        if damage:
            record["damaged"] = [msgspec.to_builtins(entry) for entry in damage]
        if state is not None:
            record["job"] = msgspec.to_builtins(state)
        click.echo(json.dumps(record))
    else:
        _print_timeline(job_id, timeline)
        if state is not None:
            click.echo(f"As of then: status {state.status}, updated {_iso(state.updated_at)}")
    if damage:
        named = "; ".join(_named(entry) for entry in damage)
        raise click.ClickException(
            f"Job {job_id}'s record in the log is damaged ({named}); "
            "the events that can be read are shown."
        )


def _state_then(
    history: JobHistory, job_id: int, at: int | None, version: int | None
) -> JobView | None:
    """The job as of --at or --version; None if neither is given, or if the damage
    comes before that point (the damage is named instead)."""
    if at is None and version is None:
        return None
    try:
        return history.as_of(None, job_id, at, version)
    except DamagedRecord:
        return None


def _named(entry: DamagedEntry) -> str:
    event = f"event {entry.version}"
    return entry.detail if entry.detail.startswith(f"{event} ") else f"{event}: {entry.detail}"


def _version(entry: TimelineEntry | DamagedEntry) -> int:
    return entry.version if isinstance(entry, DamagedEntry) else entry.event.version


def _print_timeline(job_id: int, timeline: list[TimelineEntry | DamagedEntry]) -> None:
    table = Table(title=f"Job {job_id}")
    # Times, events and actors are never cut; the details wrap instead.
    for column in ("version", "time (UTC)", "event", "actor", "status after"):
        table.add_column(column, no_wrap=True)
    table.add_column("details", overflow="fold", min_width=40)
    for entry in timeline:
        if isinstance(entry, DamagedEntry):
            table.add_row(str(entry.version), "", "DAMAGED", "", "", entry.detail)
            continue
        event = entry.event
        table.add_row(
            str(event.version),
            _iso(event.at),
            event.type,
            event.actor,
            entry.status_after,
            _details(event.data),
        )
    Console(width=max(Console().width, 160)).print(table)


_QUIET_FIELDS = {"jobId", "projectId", "action", "description", "leaseUntil"}


def _details(data: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, value in data.items():
        if key in _QUIET_FIELDS or value is None:
            continue
        if isinstance(value, dict):
            counts = ", ".join(f"{name} {count}" for name, count in value.items())
            parts.append(f"{key}: {counts or 'none'}")
        elif isinstance(value, list):  # a search's places: where, and how many
            where = ", ".join(f"{item.get('location')} {item.get('count')}" for item in value)
            parts.append(f"{key}: {where or 'none'}")
        elif key.endswith("At") and isinstance(value, int):
            parts.append(f"{key} {_iso(value)}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


@click.group()
def audit() -> None:
    """Evidence for auditors: export the log, replay it against the read model."""


@audit.command("export")
@click.option("--project", "project_key", help="Only this project's jobs.")
@click.option("--since", type=TIME, help="Only events at or after this time.")
@click.option("--output", type=click.Path(dir_okay=False), help="A file (default: stdout).")
def audit_export(project_key: str | None, since: int | None, output: str | None) -> None:
    """The log as JSON lines: position, hash, chain link, event."""
    with open_services(read_only=True) as services:
        project_id = None
        if project_key is not None:
            project_id = project_named(services, project_key).id
        lines = export_lines(services.log, services.database, project_id, since)
        if output:
            _export_to_file(lines, Path(output))
            return
        try:
            for line in lines:
                sys.stdout.buffer.write(line)
        except DamagedRecord as damaged:
            raise click.ClickException(
                f"{damaged} The lines printed above are incomplete."
            ) from None
        finally:
            sys.stdout.buffer.flush()


def _export_to_file(lines: Iterator[bytes], output: Path) -> None:
    """All or nothing: written beside the file, and renamed into place once complete."""
    if not output.resolve().parent.is_dir():
        raise click.ClickException(f"The folder {output.resolve().parent} does not exist.")
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("wb") as sink:
            for line in lines:
                sink.write(line)
        partial.replace(output)
    except DamagedRecord as damaged:
        raise click.ClickException(f"{damaged} Nothing was written to {output}.") from None
    finally:
        partial.unlink(missing_ok=True)


@audit.command("replay")
def audit_replay() -> None:
    """Re-fold every job from the log and compare it with the read model."""
    with open_services(read_only=True) as services:
        services.projector.catch_up()
        expected = refold_all(services.log)
        mismatches = list(compare(expected, services.read_model.every_job()))
    for mismatch in mismatches:
        click.echo(str(mismatch))
    click.echo(f"{len(expected)} jobs replayed, {len(mismatches)} mismatches.")
    sys.exit(1 if mismatches else 0)


@click.command()
@click.option("--anchor", help="POSITION:HASH published earlier; the chain must pass through it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(anchor: str | None, as_json: bool) -> None:
    """Recompute the event log's hash chain and report the first broken link."""
    anchor_link = _anchor(anchor) if anchor else None
    with open_services(read_only=True) as services:
        report = verify_chain(services.log, services.database, anchor_link)
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(report), "intact": report.intact}))
    elif report.intact:
        click.echo(f"Intact: {report.checked} events.")
        click.echo(f"Head: position {report.head_position}, hash {report.head_hash}")
    else:
        click.echo(f"BROKEN at position {report.broken_at}: {report.reason}")
        click.echo(
            f"The chain holds up to position {report.head_position} "
            f"(hash {report.head_hash}), {report.checked} events checked."
        )
    sys.exit(0 if report.intact else 1)


def _anchor(text: str) -> tuple[int, str]:
    position, _, digest = text.partition(":")
    if not position.isdigit() or len(digest) != 64:
        raise click.BadParameter("--anchor takes POSITION:HASH (a 64-digit hex hash).")
    return int(position), digest.lower()

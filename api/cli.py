"""The ``jobtrail`` command line: run the service and administer tenants."""

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import msgspec
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.cli_keys import keys
from api.cli_support import JobtrailGroup, checked_targets
from api.cli_support import open_services as _services
from api.cli_targets import targets
from api.cli_tenancy import orgs, projects
from api.composition import Services
from api.logs import configure_logging
from application.audit import compare, refold_all
from application.errors import DamagedRecord, JobNotFound
from application.projection_check import fold_projection
from application.views import moment_ms
from infrastructure.audit_export import export_lines
from infrastructure.chain import verify_chain
from infrastructure.rebuild import (
    Rebuild,
    RebuildInProgress,
    UnknownProjection,
    rebuild_running,
)
from infrastructure.session_store import demo_user_ids, seed_sessions
from infrastructure.targets import default_recordings

log = logging.getLogger("jobtrail.worker")


@click.group(cls=JobtrailGroup)
@click.version_option(package_name="jobtrail", prog_name="jobtrail")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """jobtrail: event-sourced user-data deletion jobs (OpenReplay Jobs API)."""
    ctx.meta["jobtrail.debug"] = debug


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="API processes (uvicorn workers) serving HTTP; not deletion workers.",
)
@click.option(
    "--worker/--no-worker",
    "embedded_worker",
    default=None,
    help="Whether the API processes also run due deletion jobs "
    "(default: JOBTRAIL_EMBEDDED_WORKER, which is 1).",
)
def serve(host: str, port: int, workers: int, embedded_worker: bool | None) -> None:
    """Run the HTTP API (and, unless --no-worker, an embedded deletion worker)."""
    with _services() as services:
        if embedded_worker is None:
            embedded_worker = services.settings.embedded_worker
        if embedded_worker:
            checked_targets(services, announce=True)
        with services.database.schema_lock():
            if services.tenancy.is_empty():
                _print_first_start(services, host, port)
            else:
                _print_start(services, host, port)
    # Uvicorn's worker processes build their settings from the environment.
    os.environ["JOBTRAIL_EMBEDDED_WORKER"] = "1" if embedded_worker else "0"
    configure_logging()
    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # ours (api.logs): JSON or plain, with request ids
        access_log=False,  # it prints raw paths, which carry user ids: ours names routes
    )


def _shown(host: str) -> str:
    return "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104


def _print_start(services: Services, host: str, port: int) -> None:
    projects = services.tenancy.projects()
    usable = [k for k in services.tenancy.list_keys() if k.revoked_at is None]
    click.echo(f"jobtrail on http://{_shown(host)}:{port}, database {services.database.url.shown}")
    click.echo(
        f"  {len(projects)} projects and {len(usable)} API keys "
        "(`jobtrail projects list`, `jobtrail keys list`; a lost key: `jobtrail keys create`)."
    )
    for project in projects[:5]:
        click.echo(f"  project {project.project_key}  {project.name} (org {project.org_id})")


def _print_first_start(services: Services, host: str, port: int) -> None:
    key = services.tenancy.issue_key()
    project = services.tenancy.create_project("default")
    shown_host = _shown(host)
    click.echo("First start: created the default organization, an API key and a project.")
    click.echo(f"  Organization API key (shown once): {key.api_key}")
    click.echo(f"  Project key: {project.project_key}")
    click.echo("Try it:")
    click.echo(
        f"  curl -X GET http://{shown_host}:{port}/api/v1/{project.project_key}/jobs "
        f"-H 'content-type: application/json' -H 'Authorization: {key.api_key}'"
    )


@main.command()
@click.option("--once", is_flag=True, help="Run every job that is due now, then exit.")
def worker(once: bool) -> None:
    """Run due deletion jobs until stopped (SIGTERM or SIGINT finishes the current batch)."""
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        click.echo(f"{signal.Signals(signum).name}: finishing the current batch", err=True)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    configure_logging()
    with _services() as services:
        runner = services.worker(stopping, targets=checked_targets(services, announce=True))
        settings = services.settings
        log.info(
            "worker %s on %s, polling every %s s, lease %s s",
            runner.worker_id,
            services.database.url.shown,
            settings.worker_poll_interval,
            settings.lease.total_seconds(),
        )
        if once:
            results = runner.run_due_jobs()
            done = ", ".join(f"{count} {result}" for result, count in sorted(results.items()))
            click.echo(f"Ran every due job: {done}." if done else "No job was due.")
        else:
            runner.run_until_stopped(settings.worker_poll_interval)
        log.info("worker %s stopped", runner.worker_id)


main.add_command(targets)


@main.group()
def demo() -> None:
    """Demonstration data for the embedded default targets."""


@demo.command("seed")
@click.option(
    "--users",
    default=10,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Users to make: user0@example.com, user1@example.com…",
)
@click.option(
    "--sessions",
    default=20,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Sessions per user (so --users 5 --sessions 1000 makes 5,000).",
)
@click.option("--project", "project_key", help="projectKey (default: the first project).")
@click.option(
    "--recordings",
    type=click.Path(),
    help="Where recordings go (default: the embedded target's folder, beside the database).",
)
def demo_seed(users: int, sessions: int, project_key: str | None, recordings: str | None) -> None:
    """Fill the sessions table and recordings/ with realistic sessions."""
    with _services() as services:
        recordings = recordings or str(default_recordings(services.database))
        project = services.tenancy.find_project(project_key)
        if project is None:
            raise click.ClickException(
                "No such project: create one with `jobtrail projects create`."
            )
        added = seed_sessions(
            services.database, project.id, demo_user_ids(users), sessions, Path(recordings)
        )
    click.echo(
        f"Added {added} sessions for {users} users (user0@example.com …) "
        f"to project {project.project_key}, with recordings in {recordings}/."
    )


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


@main.command()
@click.argument("job_id", type=int)
@click.option("--at", "at", type=TIME, help="Show the job as it was at this time.")
@click.option("--version", "version", type=click.IntRange(1), help="...or after this event.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(job_id: int, at: int | None, version: int | None, as_json: bool) -> None:
    """A job's timeline from the event log: time, event, actor, status after it."""
    if at is not None and version is not None:
        raise click.UsageError("Give --at or --version, not both.")
    with _services(read_only=True) as services:
        try:
            timeline = services.history.timeline(None, job_id)
            state = (
                services.history.as_of(None, job_id, at, version)
                if at is not None or version is not None
                else None
            )
        except JobNotFound as error:
            found_not = str(error) if type(error) is not JobNotFound else f"No job {job_id}."
            raise click.ClickException(found_not) from None
    if at is not None:
        timeline = [entry for entry in timeline if entry.event.at <= at]
    if version is not None:
        timeline = timeline[:version]
    if as_json:
        record: dict[str, Any] = {
            "jobId": job_id,
            "events": [
                {**msgspec.to_builtins(entry.event), "statusAfter": entry.status_after}
                for entry in timeline
            ],
        }
        if state is not None:
            record["job"] = msgspec.to_builtins(state)
        click.echo(json.dumps(record))
        return
    table = Table(title=f"Job {job_id}")
    # Times, events and actors are never cut; the details wrap instead.
    for column in ("version", "time (UTC)", "event", "actor", "status after"):
        table.add_column(column, no_wrap=True)
    table.add_column("details", overflow="fold")
    for entry in timeline:
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
    if state is not None:
        click.echo(f"As of then: status {state.status}, updated {_iso(state.updated_at)}")


_QUIET_FIELDS = {"jobId", "projectId", "action", "description", "leaseUntil"}


def _details(data: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, value in data.items():
        if key in _QUIET_FIELDS or value is None:
            continue
        if isinstance(value, dict):
            counts = ", ".join(f"{name} {count}" for name, count in value.items())
            parts.append(f"{key}: {counts or 'none'}")
        elif key.endswith("At") and isinstance(value, int):
            parts.append(f"{key} {_iso(value)}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


@main.group()
def audit() -> None:
    """Evidence for auditors: export the log, replay it against the read model."""


@audit.command("export")
@click.option("--project", "project_key", help="Only this project's jobs.")
@click.option("--since", type=TIME, help="Only events at or after this time.")
@click.option("--output", type=click.Path(dir_okay=False), help="A file (default: stdout).")
def audit_export(project_key: str | None, since: int | None, output: str | None) -> None:
    """The log as JSON lines: position, hash, chain link, event."""
    with _services(read_only=True) as services:
        project_id = None
        if project_key is not None:
            project = services.tenancy.find_project(project_key)
            if project is None:
                raise click.ClickException(f"No project {project_key}.")
            project_id = project.id
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
    with _services(read_only=True) as services:
        services.projector.catch_up()
        expected = refold_all(services.log)
        mismatches = list(compare(expected, services.read_model.every_job()))
    for mismatch in mismatches:
        click.echo(str(mismatch))
    click.echo(f"{len(expected)} jobs replayed, {len(mismatches)} mismatches.")
    sys.exit(1 if mismatches else 0)


@main.command()
@click.option("--anchor", help="POSITION:HASH published earlier; the chain must pass through it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def verify(anchor: str | None, as_json: bool) -> None:
    """Recompute the event log's hash chain and report the first broken link."""
    anchor_link = _anchor(anchor) if anchor else None
    with _services(read_only=True) as services:
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


@main.group()
def projections() -> None:
    """Read-model projections: status, rebuild, verify."""


@projections.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def projections_status(as_json: bool) -> None:
    """Each projection's position, the log head, the lag and the state."""
    with _services(read_only=True) as services:
        head = services.log.head()
        rows = []
        for record in services.projection_store.records():
            state = record.state
            if state == "rebuilding" and not rebuild_running(services.database, "jobs"):
                state = "rebuild interrupted"  # nobody holds it: `rebuild` resumes it
            rows.append(
                {
                    "name": record.name,
                    "position": record.position,
                    "head": head,
                    "lag": head - record.position,
                    "state": state,
                    "error": record.error,
                }
            )
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table(title="Projections")
    for column in ("name", "position", "head", "lag", "state", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(("" if value is None else str(value)) for value in row.values()))
    Console().print(table)


@projections.command("rebuild")
@click.argument("name", default="jobs")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100_000))
def projections_rebuild(name: str, batch_size: int) -> None:
    """Replay the log into a new read model beside the live one, then swap it in."""
    with _services() as services:
        try:
            rebuild = Rebuild(services.log, services.database, name, batch_size)
        except UnknownProjection as error:
            raise click.ClickException(str(error)) from None
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(f"rebuilding {name}", total=services.log.head(), rate="-")

            def show(position: int, head: int) -> None:
                speed = bar.tasks[task].speed
                rate = f"{speed:,.0f}" if speed else "-"
                bar.update(task, completed=position, total=head, rate=rate)

            try:
                result = rebuild.run(show)
            except RebuildInProgress as error:
                raise click.ClickException(str(error)) from None
        damage = services.projection_store.damage()
    resumed = f", resumed from position {result.resumed_from}" if result.resumed_from else ""
    click.echo(
        f"Rebuilt {name} to position {result.position}: {result.events} events in "
        f"{result.seconds:.1f} s{resumed}. The new read model is live."
    )
    for damaged in damage:
        click.echo(
            f"Damaged event at position {damaged.position} (aggregate {damaged.aggregate_id}): "
            f"{damaged.detail}",
            err=True,
        )
    sys.exit(1 if damage else 0)


@projections.command("verify")
def projections_verify() -> None:
    """Fold the log afresh and compare it with the live read model, job by job."""
    with _services(read_only=True) as services:
        position = services.projector.position()
        expected = fold_projection(services.log, position)
        differences = list(compare(expected, services.read_model.every_job()))
    for difference in differences:
        click.echo(str(difference))
    click.echo(
        f"{len(expected)} jobs at position {position} compared, {len(differences)} differences."
    )
    sys.exit(1 if differences else 0)


main.add_command(orgs)
main.add_command(projects)
main.add_command(keys)

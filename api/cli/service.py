"""``jobtrail serve``, ``jobtrail worker`` and ``jobtrail demo``: the service itself."""

import logging
import os
import signal
import socket
import threading
from datetime import timedelta
from pathlib import Path

import click

from api import http_protocol
from api.cli.support import checked_targets, settings_from_env
from api.cli.support import open_services as _services
from api.composition import Services
from api.logs import configure_logging
from application.tenants import FIRST_START_PROJECT
from infrastructure.session_store import demo_user_ids, seed_sessions
from infrastructure.targets import default_recordings

log = logging.getLogger("jobtrail.worker")


@click.command()
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
    _can_listen(host, port)
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
    configure_logging(services.settings)
    import uvicorn  # only serve needs it

    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=http_protocol.NAME,  # TCP_NODELAY on every connection, with any --workers
        log_config=None,  # ours (api.logs): JSON or plain, with request ids
        access_log=False,  # it prints raw paths, which carry user ids: ours names routes
    )


def _can_listen(host: str, port: int) -> None:
    """Says so plainly, before anything is printed or started, if the address is taken
    or not this machine's (uvicorn would only log it among other lines)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as error:
        raise click.ClickException(
            f"Cannot listen on {host}:{port}: {error.strerror or error} "
            "(another process there? pick --port or --host)."
        ) from None


def _shown(host: str) -> str:
    shown = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"[{shown}]" if ":" in shown else shown


def _where(services: Services, host: str, port: int) -> str:
    at = f"http://{_shown(host)}:{port}" if port else f"{_shown(host)}, on a free port"
    return f"jobtrail on {at}, database {services.database.url.shown}"


def _when_jobs_start(services: Services) -> str:
    delay = services.settings.deletion_delay
    if delay is None:
        return (
            "  Deletion jobs start at the next UTC midnight, as OpenReplay's do; "
            "JOBTRAIL_DELETION_DELAY=0 starts them at once."
        )
    return f"  Deletion jobs start {_after(delay)} (JOBTRAIL_DELETION_DELAY)."


def _after(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    return "at once" if seconds == 0 else f"{seconds:g} s after they are requested"


def _print_start(services: Services, host: str, port: int) -> None:
    projects = services.tenancy.projects()
    usable = [k for k in services.tenancy.list_keys() if k.revoked_at is None]
    click.echo(_where(services, host, port))
    click.echo(
        f"  projects: {len(projects)}, API keys: {len(usable)} "
        "(`jobtrail projects list`, `jobtrail keys list`; a lost key: `jobtrail keys create`)."
    )
    if not projects:
        click.echo("  No project yet: `jobtrail projects create NAME` prints its key.")
    for project in projects[:5]:
        click.echo(f"  project {project.project_key}  {project.name} (org {project.org_id})")
    click.echo(_when_jobs_start(services))


def _print_first_start(services: Services, host: str, port: int) -> None:
    key = services.tenancy.issue_key()
    project = services.tenancy.create_project(FIRST_START_PROJECT)
    shown_host = _shown(host)
    click.echo(_where(services, host, port))
    click.echo("First start: created the default organization, an API key and a project.")
    click.echo(f"  Organization API key (shown once): {key.api_key}")
    click.echo(f"  Project key: {project.project_key}")
    click.echo(_when_jobs_start(services))
    click.echo("Try it:")
    click.echo(
        f"  curl -X GET http://{shown_host}:{port}/api/v1/{project.project_key}/jobs "
        f"-H 'content-type: application/json' -H 'Authorization: {key.api_key}'"
    )


@click.command()
@click.option("--once", is_flag=True, help="Run every job that is due now, then exit.")
def worker(once: bool) -> None:
    """Run due deletion jobs until stopped (SIGTERM or SIGINT finishes the current batch)."""
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        click.echo(f"{signal.Signals(signum).name}: finishing the current batch", err=True)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    configure_logging(settings_from_env())
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


@click.group()
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

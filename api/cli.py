"""The ``jobtrail`` command line: run the service and administer tenants."""

import json
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import uvicorn

from api.composition import Services, build_services
from application.tenancy import OrganizationNotFound
from infrastructure.session_store import demo_user_ids, seed_sessions
from infrastructure.settings import Settings, SettingsError


@contextmanager
def _services() -> Iterator[Services]:
    try:
        services = build_services(Settings.from_env())
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    try:
        yield services
    except OrganizationNotFound as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()


def _emit(as_json: bool, record: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(record) if as_json else text)


@click.group()
def main() -> None:
    """jobtrail: event-sourced user-data deletion jobs (OpenReplay Jobs API)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--worker/--no-worker",
    "embedded_worker",
    default=True,
    show_default=True,
    help="Run due jobs inside the API processes.",
)
def serve(host: str, port: int, workers: int, embedded_worker: bool) -> None:
    """Run the HTTP API with uvicorn."""
    with _services() as services, services.database.schema_lock():
        if services.tenancy.is_empty():
            _print_first_start(services, host, port)
    # Uvicorn's worker processes build their settings from the environment.
    os.environ["JOBTRAIL_EMBEDDED_WORKER"] = "1" if embedded_worker else "0"
    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _print_first_start(services: Services, host: str, port: int) -> None:
    key = services.tenancy.issue_key()
    project = services.tenancy.create_project("default")
    shown_host = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with _services() as services:
        runner = services.worker(stopping)
        if once:
            results = runner.run_due_jobs()
            click.echo(json.dumps({str(k): v for k, v in sorted(results.items())}))
        else:
            runner.run_until_stopped(services.settings.worker_poll_interval)


@main.group()
def demo() -> None:
    """Demonstration data for the embedded default targets."""


@demo.command("seed")
@click.option("--users", default=10, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--sessions", default=20, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--project", "project_key", help="projectKey (default: the first project).")
@click.option("--recordings", default="recordings", show_default=True, type=click.Path())
def demo_seed(users: int, sessions: int, project_key: str | None, recordings: str) -> None:
    """Fill the sessions table and recordings/ with realistic sessions."""
    with _services() as services:
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


@main.group()
def orgs() -> None:
    """Organizations, which own projects and API keys."""


@orgs.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_org(name: str, as_json: bool) -> None:
    """Create an organization and print its id."""
    with _services() as services:
        org = services.tenancy.create_organization(name)
    _emit(as_json, {"id": org.id, "name": org.name}, str(org.id))


@main.group()
def projects() -> None:
    """Projects, addressed by their projectKey in the API."""


@projects.command("create")
@click.argument("name")
@click.option("--org", "org_id", type=int, help="Organization id (default: the default one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_project(name: str, org_id: int | None, as_json: bool) -> None:
    """Create a project and print its projectKey."""
    with _services() as services:
        project = services.tenancy.create_project(name, org_id)
    record = {
        "projectId": project.id,
        "projectKey": project.project_key,
        "name": project.name,
        "orgId": project.org_id,
    }
    _emit(as_json, record, project.project_key)


@main.group()
def keys() -> None:
    """Organization API keys."""


@keys.command("create")
@click.option("--org", "org_id", type=int, help="Organization id (default: the default one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_key(org_id: int | None, as_json: bool) -> None:
    """Issue an API key and print it. It is shown once: only its hash is kept."""
    with _services() as services:
        key = services.tenancy.issue_key(org_id)
    _emit(as_json, {"keyId": key.key_id, "orgId": key.org_id, "apiKey": key.api_key}, key.api_key)

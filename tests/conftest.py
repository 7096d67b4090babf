"""Fixtures shared by every test: real databases on both backends, never mocks."""

import asyncio
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services, build_services
from application.errors import JobNotFound
from application.job_records import JobView
from application.tenants import IssuedKey, Project
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.clocks import SteppingClock
from tests.scheduling import SchedulingCommands
from tests.throwaway_postgres import NOT_INSTALLED, ThrowawayPostgres, remove, started_cluster

T = TypeVar("T")

BACKENDS = ["sqlite", "postgresql"]


SUITE_CONNECTIONS = 400
"""The suite's cluster admits this many connections: three test processes, each test's
services with three pools of up to 15, and the servers and workers the process tests
start, with room to spare (docs/development.md: "Running the tests")."""


def pytest_configure(config: pytest.Config) -> None:
    """The run's own PostgreSQL cluster, started once by the controlling process
    (xdist's workers inherit its URL) and removed at the end: nothing another program
    does to the machine's server can fail or skip the suite. ``TEST_POSTGRES_URL``
    names another server instead."""
    if hasattr(config, "workerinput") or os.environ.get("TEST_POSTGRES_URL"):
        return
    if config.getoption("--backends", default=None) == "memory":
        return  # the fast loop (make check) asks no database for anything
    cluster = started_cluster(SUITE_CONNECTIONS)
    if cluster is None:
        return  # require_postgres() skips those tests, or fails them under CI
    config.stash[_SUITE_CLUSTER] = cluster
    os.environ["TEST_POSTGRES_URL"] = cluster.url
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        # A terminated run ends as an interrupted one does, removing its cluster (a
        # killed one's is removed by the next run: throwaway_postgres.started_cluster).
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_unconfigure(config: pytest.Config) -> None:
    cluster = config.stash.get(_SUITE_CLUSTER, None)
    if cluster is not None:
        remove(cluster)
        os.environ.pop("TEST_POSTGRES_URL", None)


_SUITE_CLUSTER = pytest.StashKey[ThrowawayPostgres]()


def postgres_admin_url() -> str:
    """The URL of the suite's PostgreSQL (a database its tests may fill and empty)."""
    return os.environ.get("TEST_POSTGRES_URL", "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/process starts real jobtrail processes: `-m "not process"`
    leaves them out."""
    for item in items:
        if "process" in item.path.parts:
            item.add_marker(pytest.mark.process)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        type=int,
        default=1,
        help="Multiply the rounds of stress and reliability tests (a longer soak).",
    )


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> int:
    factor: int = request.config.getoption("--soak")
    return max(1, factor)


def postgres_reachable() -> bool:
    if not postgres_admin_url():
        return False
    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=10):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    """The suite's PostgreSQL is there. Only where PostgreSQL is not installed at all
    is the test skipped, and under CI even that fails: a server that is there but does
    not answer is always a failure, never a skip."""
    if not postgres_admin_url():
        reason = f"no PostgreSQL for the tests: {NOT_INSTALLED}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run these tests.")
        pytest.skip(f"{reason} (set CI to make this a failure).")
    if not postgres_reachable():
        pytest.fail(f"the tests' PostgreSQL ({postgres_admin_url()}) does not answer")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobtrail.db'}"
        return
    require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_admin_url()}?schema={schema}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, read_your_writes_timeout=10.0)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


@dataclass(frozen=True)
class Tenant:
    key: IssuedKey
    project: Project

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.key.api_key, "content-type": "application/json"}

    def url(self, path: str) -> str:
        return f"/api/v1/{self.project.project_key}{path}"


def job_now(services: Services, project_id: int, job_id: int) -> JobView:
    """The job as the read model holds it now, read as the worker and the tools read
    it (the API awaits the same row on its event loop); JobNotFound unless it is the
    project's."""
    found = services.read_model.get(project_id, job_id)
    if found is None:
        raise JobNotFound(job_id)
    return found


def on_a_loop(services: Services, read: Callable[[], Awaitable[T]]) -> T:
    """``read`` (or scheduling) on a new event loop, between the API's reader's and
    scheduling's open and close, as the HTTP app runs them."""

    async def run() -> T:
        await services.reads.open()
        await services.scheduling.open()
        try:
            return await read()
        finally:
            await services.scheduling.close()
            await services.reads.close()

    return asyncio.run(run())


def new_tenant(services: Services, org_name: str | None = None) -> Tenant:
    """A key and a project of an organization of their own (named, or made up)."""
    org_name = org_name or f"org {uuid.uuid4().hex[:8]}"
    org_id = services.tenancy.create_organization(org_name).id
    return Tenant(
        key=services.tenancy.issue_key(org_id),
        project=services.tenancy.create_project("web", org_id),
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as test_client:
        yield test_client


@pytest.fixture
def app_services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


@pytest.fixture
def tenant(app_services: Services) -> Tenant:
    return new_tenant(app_services)


def tomorrows_commands(services: Services) -> SchedulingCommands:
    """Commands whose clock is a day ahead: jobs scheduled today (they start at the
    next UTC midnight) are due for them, as they would be for a worker tomorrow."""
    return SchedulingCommands(
        services.log,
        SqlJobIdAllocator(services.database),
        SteppingClock(datetime.now(UTC) + timedelta(days=1)),
        services.settings.deletion_delay,
        after_write=lambda position: services.projector.wait_for(position, 10.0),
    )

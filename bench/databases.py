"""The volumes of each mode, and the databases the figures run on: jobtrail's on
either backend, the CRUD peer's on PostgreSQL."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from api.composition import Services, build_services
from application.log_scheduling_store import LogSchedulingStore
from application.outcome import Outcome
from application.scheduling import ScheduleRequest, Scheduling
from bench.harness import POSTGRES_ADMIN_URL, postgres_schema, scratch_schema
from bench.peer.schema import PeerTenant, create, seed_jobs
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings


@dataclass(frozen=True)
class Sizes:
    seconds: float
    """Of each measured HTTP run (wrk counts whole seconds) and each in-process run."""
    warmup: float
    """Of the run each server gets before its measured one (0: none)."""
    small_read_model: int
    large_read_model: int
    stream_jobs: int
    events: int
    session_rows: int


QUICK = Sizes(3, 1, 10_000, 100_000, 100_000, 100_000, 100_000)
FULL = Sizes(8, 1, 10_000, 1_000_000, 100_000, 1_000_000, 1_000_000)
SMOKE = Sizes(0.5, 0, 200, 2_000, 2_000, 3_000, 3_000)  # for the test that runs the harness


@contextmanager
def database(backend: str, workdir: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.db'}"
    else:
        with postgres_schema() as url:
            yield url


@contextmanager
def services_on(url: str) -> Iterator[Services]:
    # Jobs are due at once: the deletion figure runs one as soon as it is scheduled.
    built = build_services(Settings(database_url=url, deletion_delay=timedelta(0)))
    try:
        yield built
    finally:
        built.close()


def schedule_alone(services: Services, project_id: int, user_id: str) -> Outcome:
    """A user's deletion scheduled from synchronous code: one request decided alone,
    on the log's scheduling store, its answer waiting for the read model."""
    settings = services.settings
    store = LogSchedulingStore(
        services.log,
        SqlJobIdAllocator(services.database),
        lambda position: services.projector.wait_for(position, settings.read_your_writes_timeout),
    )
    scheduling = Scheduling(
        store, services.log, services.clock, settings.deletion_delay, settings.response_period
    )
    request = ScheduleRequest(project_id, user_id, "key:bench")
    (answer,) = asyncio.run(scheduling.schedule([request]))
    if isinstance(answer, Exception):
        raise answer
    return answer


@dataclass(frozen=True)
class PeerDatabase:
    conninfo: str
    schema: str
    tenant: PeerTenant

    @property
    def writes_project(self) -> str:
        """The project scheduling runs add jobs to."""
        return self.tenant.project_keys[0]

    @property
    def reads_project(self) -> str:
        """The project holding jobs 1..small_read_model, as jobtrail's read figures."""
        return self.tenant.project_keys[1]


@contextmanager
def peer_database(sizes: Sizes) -> Iterator[PeerDatabase]:
    with scratch_schema() as schema:
        tenant = create(POSTGRES_ADMIN_URL, schema)
        seed_jobs(POSTGRES_ADMIN_URL, schema, tenant.project_ids[1], sizes.small_read_model)
        yield PeerDatabase(POSTGRES_ADMIN_URL, schema, tenant)

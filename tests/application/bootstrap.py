"""The use cases as the application tests run them: one bootstrap over the adapters
of any backend, in memory (tests/in_memory.py) or on a real database."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

from api.composition import build_services
from application.deadlines import Deadlines
from application.event_log import JobLog
from application.forgetting import Forgetting
from application.job_records import JobView
from application.ports import (
    Clock,
    DataKeys,
    JobIdAllocator,
    JobsReadModel,
    ProjectionStore,
)
from application.projection import JobsProjection
from application.projector import Projector
from domain.deadline import ONE_MONTH, Period
from infrastructure.event_store import SealedJobLog
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.conftest import BACKENDS as DATABASES
from tests.conftest import postgres_admin_url, require_postgres
from tests.in_memory import InMemoryJobIds, InMemoryJobLog, InMemoryJobs, InMemoryVault
from tests.scheduling import SchedulingCommands

MEMORY = "memory"
BACKENDS = (MEMORY, *DATABASES)


@dataclass(frozen=True)
class Adapters:
    """What the use cases run on: the log, and the stores beside it."""

    log: JobLog
    job_ids: JobIdAllocator
    read_model: JobsReadModel
    projection_store: ProjectionStore
    keys: DataKeys

    def view(self, job_id: int, project_id: int = 1) -> JobView:
        """The job as the read model shows it to its project."""
        found = self.read_model.get(project_id, job_id)
        assert found is not None, f"job {job_id} is not in the read model of {project_id}"
        return found


def in_memory() -> Adapters:
    vault = InMemoryVault()
    jobs = InMemoryJobs()
    return Adapters(InMemoryJobLog(vault), InMemoryJobIds(), jobs, jobs, vault)


@contextmanager
def adapters_on(backend: str, tmp_path: Path) -> Iterator[Adapters]:
    """The backend's adapters: in memory, or the service's own on a database of the
    test's (a SQLite file in ``tmp_path``, or a PostgreSQL schema dropped after)."""
    if backend == MEMORY:
        yield in_memory()
    elif backend == "sqlite":
        with _on_database(f"sqlite:///{tmp_path / 'jobtrail.db'}") as adapters:
            yield adapters
    else:
        require_postgres()
        schema = f"test_{uuid.uuid4().hex[:12]}"
        try:
            with _on_database(f"{postgres_admin_url()}?schema={schema}") as adapters:
                yield adapters
        finally:
            with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def _on_database(url: str) -> Iterator[Adapters]:
    services = build_services(Settings(database_url=url))
    try:
        log = services.log
        assert isinstance(log, SealedJobLog) and log.vault is not None
        job_ids = SqlJobIdAllocator(services.database)
        yield Adapters(log, job_ids, services.read_model, services.projection_store, log.vault)
    finally:
        services.close()


@dataclass(frozen=True)
class UseCases:
    commands: SchedulingCommands
    deadlines: Deadlines
    forgetting: Forgetting
    projector: Projector
    read_your_writes: Callable[[int], None]


def bootstrap(
    adapters: Adapters,
    clock: Clock,
    deletion_delay: timedelta | None = None,
    response_period: Period = ONE_MONTH,
    forget_after: timedelta = timedelta(days=30),
) -> UseCases:
    """The use cases on one clock, as api/composition.py builds them: each write is
    answered once the read model includes it."""
    projector = Projector(adapters.log, adapters.projection_store, JobsProjection())

    def read_your_writes(position: int) -> None:
        projector.wait_for(position, 10.0)

    commands = SchedulingCommands(
        adapters.log,
        adapters.job_ids,
        clock,
        deletion_delay,
        after_write=read_your_writes,
        response_period=response_period,
    )
    forgetting = Forgetting(
        adapters.log,
        adapters.read_model,
        adapters.keys,
        clock,
        forget_after,
        after_write=read_your_writes,
    )
    return UseCases(
        commands,
        Deadlines(commands, adapters.read_model, clock),
        forgetting,
        projector,
        read_your_writes,
    )

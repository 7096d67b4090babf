"""The composition root: every adapter is built here, from one Settings object."""

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from application.audit import JobHistory
from application.commands import JobCommands
from application.event_log import JobLog
from application.follower import ProjectionFollower
from application.forgetting import Forgetting
from application.log_scheduling_store import LogSchedulingStore
from application.ports import (
    Clock,
    JobsReadModel,
    ProjectionStore,
    SchedulingStore,
    TenancyStore,
)
from application.projection import JobsProjection
from application.projector import Projector
from application.queries import JobQueries
from application.runner import JobRunner, RunnerSettings
from application.scheduling import Scheduling
from application.tenancy import Tenancy
from application.worker import Worker
from infrastructure.async_reads import AsyncReader, async_reader
from infrastructure.checkpoints import CheckpointStore
from infrastructure.clock import SystemClock
from infrastructure.database import Database, parse_database_url
from infrastructure.event_store import open_job_log
from infrastructure.group_commit import LoopScheduling
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.locks import ProjectionLeadership
from infrastructure.log_tree import LogTree
from infrastructure.personal_data import PersonalDataVault
from infrastructure.postgres_scheduling_store import PostgresSchedulingStore
from infrastructure.projection_store import SqlProjectionStore
from infrastructure.read_model import AsyncJobsReadModel, SqlJobsReadModel
from infrastructure.remembered_credentials import RememberedCredentials
from infrastructure.schema import prepare_database
from infrastructure.session_store import ConfiguredSessions
from infrastructure.settings import Settings
from infrastructure.signing import SigningKey
from infrastructure.targets import ServiceTargets, service_targets
from infrastructure.tenancy_store import SqlTenancyStore

SCHEDULING_BATCHES_IN_FLIGHT = 2
"""Scheduling batches under way at once in a process, on PostgreSQL."""


class NoDatabase(Exception):
    def __init__(self, shown: str, is_file: bool) -> None:
        where = " (a relative path is from the folder you run this in)" if is_file else ""
        super().__init__(
            f"No jobtrail database at {shown}: check JOBTRAIL_DATABASE_URL{where}, "
            "or start `jobtrail serve` once to create it."
        )


@dataclass
class Services:
    settings: Settings
    database: Database
    log: JobLog
    projector: Projector
    commands: JobCommands
    queries: JobQueries
    reads: AsyncReader
    """The API's reads, opened and closed by the HTTP app on its event loop."""
    scheduling: LoopScheduling
    """The API's scheduling, on its event loop too (opened and closed by the app)."""
    tenancy: Tenancy
    tenancy_store: TenancyStore
    read_model: JobsReadModel
    projection_store: ProjectionStore
    history: JobHistory
    sessions: ConfiguredSessions
    clock: Clock
    forgetting: Forgetting
    checkpoints: CheckpointStore

    def signing_key(self) -> SigningKey | None:
        """The key of JOBTRAIL_SIGNING_KEY_FILE (KeyFileError if it cannot be used)."""
        path = self.settings.signing_key_file
        return SigningKey.load(Path(path)) if path else None

    def worker(
        self,
        stopping: threading.Event,
        worker_id: str | None = None,
        observe: Callable[[dict[str, int]], None] = lambda deleted: None,
        targets: ServiceTargets | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Worker:
        """A worker on this process's connections; its commands do not wait for the
        read model (nobody is waiting on a response), it catches up between jobs.

        Its targets are checked first: a ConfigError names the one that is not usable,
        and its signing key, if one is set (KeyFileError)."""
        settings = self.settings
        key = self.signing_key()
        targets = targets or service_targets(settings.config_path, self.database)
        runner = JobRunner(
            JobCommands(self.log, self.clock),
            targets.targets,
            self.clock,
            RunnerSettings(
                worker_id=worker_id or default_worker_id(),
                lease=settings.lease,
                batch_size=settings.batch_size or targets.batch_size,
                record_interval=settings.record_interval,
            ),
            stopping,
            observe=observe,
        )
        return Worker(
            runner,
            self.read_model,
            self.clock,
            self.projector.catch_up,
            stopping,
            forget=self.forgetting.forget_due,
            forget_interval=settings.forget_interval,
            checkpoint=lambda: key and self.checkpoints.sign(key, only_if_grown=True),
            checkpoint_interval=settings.checkpoint_interval,
            monotonic=monotonic,
        )

    def follower(self) -> ProjectionFollower:
        return ProjectionFollower(
            self.projector,
            ProjectionLeadership(self.database, self.projector.name),
            self.projection_store,
            self.settings.projection_poll_interval,
        )

    def close(self) -> None:
        self.log.close()
        self.database.dispose()


def build_services(settings: Settings, create: bool = True) -> Services:
    """Every service on the configured database. ``create=False`` is for commands
    that only read: a database that does not hold jobtrail yet is refused, never
    made (an auditor's `verify` must not report an empty log as intact)."""
    url = parse_database_url(settings.database_url)
    Database.check_can_create(url)
    if not create and not Database.holds_jobtrail(url):
        raise NoDatabase(url.shown, is_file=url.sqlite_file is not None)
    database = Database(url, settings.pool_size, settings.pool_max_overflow)
    if create:  # a command that only reads writes nothing, not even a schema
        prepare_database(database, settings.pool_size, settings.pool_max_overflow)
    vault = PersonalDataVault(database)
    log = open_job_log(
        database.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        vault=vault,
    )
    projection_store = SqlProjectionStore(database)
    projector = Projector(log, projection_store, JobsProjection())

    def read_your_writes(position: int) -> None:
        projector.wait_for(position, settings.read_your_writes_timeout)

    clock = SystemClock()
    tenancy_store = SqlTenancyStore(database)
    read_model = SqlJobsReadModel(database)
    reads = async_reader(
        database,
        settings.pool_size + settings.pool_max_overflow,
        settings.read_your_writes_timeout,
    )
    # On PostgreSQL a batch reads and decides while the one before it commits; SQLite
    # has one writer, and its batches go one at a time.
    in_flight = 1 if database.backend == "sqlite" else SCHEDULING_BATCHES_IN_FLIGHT
    store: SchedulingStore = (
        LogSchedulingStore(log, SqlJobIdAllocator(database), read_your_writes, in_thread=True)
        if database.backend == "sqlite"
        else PostgresSchedulingStore(
            database, log, vault, in_flight + 1, settings.read_your_writes_timeout
        )
    )
    scheduling = Scheduling(store, log, clock, settings.deletion_delay, settings.response_period)
    return Services(
        settings=settings,
        database=database,
        log=log,
        projector=projector,
        commands=JobCommands(log, clock, after_write=read_your_writes),
        queries=JobQueries(AsyncJobsReadModel(reads, settings.read_your_writes_timeout)),
        reads=reads,
        scheduling=LoopScheduling(scheduling, store, in_flight),
        tenancy=Tenancy(tenancy_store, RememberedCredentials(tenancy_store, reads)),
        tenancy_store=tenancy_store,
        read_model=read_model,
        projection_store=projection_store,
        history=JobHistory(log),
        sessions=ConfiguredSessions(settings.config_path, database),
        clock=clock,
        forgetting=Forgetting(
            log, read_model, vault, clock, settings.forget_after, after_write=read_your_writes
        ),
        checkpoints=CheckpointStore(database, LogTree(database, log), clock),
    )


def default_worker_id() -> str:
    return f"worker:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

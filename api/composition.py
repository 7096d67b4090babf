"""The composition root: every adapter is built here, from one Settings object."""

from dataclasses import dataclass

from application.commands import JobCommands
from application.event_log import JobLog
from application.follower import ProjectionFollower
from application.projection import JobsProjection, Projector
from application.queries import JobQueries
from application.tenancy import Tenancy
from infrastructure.clock import SystemClock
from infrastructure.database import Database, parse_database_url
from infrastructure.event_store import open_job_log
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.read_model import SqlJobsReadModel, SqlProjectionStore
from infrastructure.schema import prepare_database
from infrastructure.settings import Settings
from infrastructure.tenancy_store import SqlTenancyStore


@dataclass
class Services:
    settings: Settings
    database: Database
    log: JobLog
    projector: Projector
    commands: JobCommands
    queries: JobQueries
    tenancy: Tenancy

    def follower(self) -> ProjectionFollower:
        return ProjectionFollower(self.projector, self.settings.projection_poll_interval)

    def close(self) -> None:
        self.log.close()
        self.database.dispose()


def build_services(settings: Settings) -> Services:
    database = Database(parse_database_url(settings.database_url))
    prepare_database(database)
    log = open_job_log(database.url)
    projector = Projector(log, SqlProjectionStore(database), JobsProjection())

    def read_your_writes(position: int) -> None:
        projector.wait_for(position, settings.read_your_writes_timeout)

    commands = JobCommands(
        log,
        SqlJobIdAllocator(database),
        SystemClock(),
        settings.deletion_delay,
        after_write=read_your_writes,
    )
    return Services(
        settings=settings,
        database=database,
        log=log,
        projector=projector,
        commands=commands,
        queries=JobQueries(SqlJobsReadModel(database)),
        tenancy=Tenancy(SqlTenancyStore(database)),
    )

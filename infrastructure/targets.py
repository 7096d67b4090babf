"""Deletion targets built from their configuration, and checked before any job runs."""

from pathlib import Path
from typing import NamedTuple

from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_targets import ClickHouseServers, ClickHouseTarget, clickhouse_target
from infrastructure.database import Database, parse_database_url
from infrastructure.file_targets import FilePattern
from infrastructure.person_target_config import PersonTargetConfig
from infrastructure.person_targets import PersonTarget, person_target
from infrastructure.s3_targets import S3Objects
from infrastructure.sql_targets import SqlTarget
from infrastructure.target_config import (
    DEFAULT_CONFIG,
    DEFAULT_RECORDINGS,
    FilesTargetConfig,
    S3TargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    load_config,
    resolve_directories,
)


class UserObjectsTarget:
    """Files or objects named by the user (no session): deleted ``limit`` at a time."""

    def __init__(self, objects: FilePattern | S3Objects) -> None:
        self.name = objects.name
        self.counts_exactly = objects.counts_exactly
        self._objects = objects

    def check(self) -> None:
        self._objects.check()

    def describe(self) -> list[str]:
        return [self._objects.describe()]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        return {self.name: self._objects.remove_user_objects(project_id, user_id, limit)}

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        return {self.name: self._objects.count(project_id, user_id)}


CheckedTarget = SqlTarget | UserObjectsTarget | PersonTarget | ClickHouseTarget


class ServiceTargets(NamedTuple):
    batch_size: int
    targets: list[CheckedTarget]
    config: TargetsConfig = DEFAULT_CONFIG
    """What they were built from (directories resolved)."""


def build_targets(config: TargetsConfig, service_database: Database) -> list[CheckedTarget]:
    databases: dict[str, Database] = {}

    def database_for(url: str | None) -> Database:
        if url is None:
            return service_database
        if url not in databases:
            databases[url] = Database(parse_database_url(url))
        return databases[url]

    named: dict[str, tuple[str | None, FilePattern | S3Objects]] = {}
    for t in config.targets:
        if isinstance(t, FilesTargetConfig):
            named[t.name] = (t.sessions_from, FilePattern(t))
        elif isinstance(t, S3TargetConfig):
            named[t.name] = (t.sessions_from, S3Objects(t))
    servers = ClickHouseServers()
    targets: list[CheckedTarget] = []
    for target in config.targets:
        if isinstance(target, SqlTargetConfig) and target.sessions_from is None:
            attached = [files for source, files in named.values() if source == target.name]
            # Children at any depth: the target picks those whose chain ends at it.
            children = [
                child
                for child in config.targets
                if isinstance(child, SqlTargetConfig) and child.sessions_from is not None
            ]
            targets.append(SqlTarget(target, database_for(target.url), attached, children))
        elif isinstance(target, PersonTargetConfig):
            targets.append(person_target(target, config.targets, database_for))
        elif isinstance(target, ClickHouseTargetConfig):
            targets.extend(clickhouse_target(target, config.targets, servers))
        elif not isinstance(target, SqlTargetConfig) and target.sessions_from is None:
            targets.append(UserObjectsTarget(named[target.name][1]))
    return targets


def service_targets(config_path: str | None, service_database: Database) -> ServiceTargets:
    """The service's targets, every one checked: a missing directory, table or column,
    or an unreachable database is a ConfigError naming the target.

    Without a configuration file, the embedded default's ``recordings`` folder sits
    beside the SQLite database (for PostgreSQL, in the folder jobtrail starts in),
    and is created there: it is jobtrail's own."""
    if config_path:
        config = load_config(config_path)
    else:
        config = resolve_directories(DEFAULT_CONFIG, _default_base(service_database))
        for target in config.targets:
            if isinstance(target, FilesTargetConfig):
                Path(target.directory).mkdir(parents=True, exist_ok=True)
    targets = build_targets(config, service_database)
    check_targets(targets)
    return ServiceTargets(config.batch_size, targets, config)


def check_targets(targets: list[CheckedTarget]) -> None:
    for target in targets:
        target.check()


def default_recordings(database: Database) -> Path:
    """Where the embedded default target keeps recordings for this database."""
    return _default_base(database) / DEFAULT_RECORDINGS


def _default_base(database: Database) -> Path:
    sqlite_file = database.url.eventsourcing_env.get("SQLITE_DBNAME")
    return Path(sqlite_file).resolve().parent if sqlite_file else Path.cwd()

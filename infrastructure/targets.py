"""Deletion targets: SQL tables and files, configured in TOML (``JOBTRAIL_CONFIG``).

    batch_size = 1000

    [[targets]]
    kind = "sql"
    name = "sessions"
    url = "postgresql://…"           # optional: the service's own database
    table = "sessions"
    user_id_column = "user_id"
    project_id_column = "project_id"
    id_column = "session_id"          # optional: the primary key

    [[targets]]
    kind = "files"
    name = "recordings"
    directory = "/var/lib/recordings"
    pattern = "{projectId}/{sessionId}"
    sessions_from = "sessions"        # needed when the pattern names {sessionId}

Placeholder values are percent-encoded into one path segment each, so a user id
like ``../x`` or ``*`` is a literal name and never escapes the directory.
"""

import contextlib
import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from sqlalchemy import MetaData, Table, bindparam, delete, select
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from application.runner import DeletionTarget, TransientTargetError
from infrastructure.database import Database, parse_database_url

PLACEHOLDERS = {"projectId", "userId", "sessionId"}
_SAFE = "@+-_.,=~"


class ConfigError(ValueError):
    """The deletion-target configuration cannot be used."""


class SqlTargetConfig(msgspec.Struct, tag="sql", tag_field="kind", forbid_unknown_fields=True):
    name: str
    table: str
    url: str | None = None
    user_id_column: str = "user_id"
    project_id_column: str = "project_id"
    id_column: str | None = None


class FilesTargetConfig(msgspec.Struct, tag="files", tag_field="kind", forbid_unknown_fields=True):
    name: str
    directory: str
    pattern: str
    sessions_from: str | None = None


class TargetsConfig(msgspec.Struct, forbid_unknown_fields=True):
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1000
    targets: list[SqlTargetConfig | FilesTargetConfig] = msgspec.field(default_factory=list)


DEFAULT_CONFIG = TargetsConfig(
    targets=[
        SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
        FilesTargetConfig(
            name="recordings",
            directory="recordings",
            pattern="{projectId}/{sessionId}",
            sessions_from="sessions",
        ),
    ]
)


def load_config(path: str | None) -> TargetsConfig:
    if not path:
        return DEFAULT_CONFIG
    try:
        config = msgspec.toml.decode(Path(path).read_bytes(), type=TargetsConfig)
    except OSError as error:
        raise ConfigError(f"Cannot read JOBTRAIL_CONFIG {path}: {error}") from None
    except msgspec.ValidationError as error:
        raise ConfigError(f"JOBTRAIL_CONFIG {path}: {error}") from None
    except msgspec.DecodeError as error:
        raise ConfigError(f"JOBTRAIL_CONFIG {path} is not valid TOML: {error}") from None
    _check(config)
    return config


def _check(config: TargetsConfig) -> None:
    names = [target.name for target in config.targets]
    if len(set(names)) != len(names):
        raise ConfigError("Deletion target names must be unique.")
    sql_names = {t.name for t in config.targets if isinstance(t, SqlTargetConfig)}
    for target in config.targets:
        if isinstance(target, FilesTargetConfig):
            used = _placeholders(target.pattern)
            if not used <= PLACEHOLDERS:
                raise ConfigError(
                    f"Target {target.name}: unknown placeholders {used - PLACEHOLDERS}."
                )
            if "userId" not in used and "sessionId" not in used:
                raise ConfigError(
                    f"Target {target.name}: the pattern must name {{userId}} or {{sessionId}}."
                )
            if "sessionId" in used and target.sessions_from not in sql_names:
                raise ConfigError(
                    f"Target {target.name}: a {{sessionId}} pattern needs sessions_from "
                    "naming a sql target."
                )


def _placeholders(pattern: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as error:
        raise ConfigError(f"Bad path pattern {pattern!r}: {error}") from None


def path_segment(value: str) -> str:
    encoded = quote(value, safe=_SAFE)
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


class FilePattern:
    def __init__(self, config: FilesTargetConfig) -> None:
        self.name = config.name
        self.root = Path(config.directory).resolve()
        self.pattern = config.pattern

    def path(self, project_id: int, user_id: str, session_id: object = "") -> Path:
        relative = self.pattern.format(
            projectId=path_segment(str(project_id)),
            userId=path_segment(user_id),
            sessionId=path_segment(str(session_id)),
        )
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"{self.name}: {relative!r} leaves {self.root}")
        return path


def _remove(path: Path) -> int:
    try:
        if path.is_dir() and not path.is_symlink():
            return 0
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


class UserFilesTarget:
    """Files or a directory named by the user: deleted ``limit`` files at a time."""

    def __init__(self, pattern: FilePattern) -> None:
        self._pattern = pattern

    @property
    def name(self) -> str:
        return self._pattern.name

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        path = self._pattern.path(project_id, user_id)
        if not path.is_dir() or path.is_symlink():
            return {self.name: _remove(path)}
        deleted = 0
        for folder, _, files in os.walk(path):
            for file in files:
                deleted += _remove(Path(folder) / file)
                if deleted >= limit:
                    return {self.name: deleted}
        _remove_empty_folders(path)
        return {self.name: deleted}


def _remove_empty_folders(path: Path) -> None:
    # rmdir, never rmtree: a file that appeared meanwhile is left for the next
    # batch to delete and count, instead of vanishing unrecorded.
    for folder, _, _ in os.walk(path, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


class SqlTarget:
    """Rows of one user in one table; files named by those rows' ids go with them."""

    def __init__(
        self,
        config: SqlTargetConfig,
        database: Database,
        session_files: Sequence[FilePattern] = (),
    ) -> None:
        self._name = config.name
        self._database = database
        self._config = config
        self._session_files = session_files
        self._table: Table | None = None
        self._delete: Any = None

    @property
    def name(self) -> str:
        return self._name

    def _statement(self) -> Any:
        """DELETE of the next batch of the user's rows, built once (RETURNING their
        keys when files are named by them)."""
        if self._delete is None:
            table = self._resolved_table()
            key = self._key(table)
            owned = (table.c[self._config.project_id_column] == bindparam("project_id")) & (
                table.c[self._config.user_id_column] == bindparam("user_id")
            )
            batch = select(key).where(owned).limit(bindparam("limit")).scalar_subquery()
            # owned twice: should id_column not be unique, no other user's row shares a fate.
            statement = delete(table).where(owned & key.in_(batch))
            self._delete = statement.returning(key) if self._session_files else statement
        return self._delete

    def _resolved_table(self) -> Table:
        if self._table is None:
            self._table = Table(self._config.table, MetaData(), autoload_with=self._database.engine)
        return self._table

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        try:
            return self._delete_batch(project_id, user_id, limit)
        except (OperationalError, DisconnectionError) as error:
            raise TransientTargetError(
                str(error.orig if isinstance(error, DBAPIError) else error)
            ) from error

    def _delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        table = self._resolved_table()
        key = self._key(table)
        owned = (table.c[self._config.project_id_column] == project_id) & (
            table.c[self._config.user_id_column] == user_id
        )
        batch = select(key).where(owned).limit(limit).scalar_subquery()
        counts = {self._name: 0, **{files.name: 0 for files in self._session_files}}
        # Durable, like the log: a BatchDeleted event must never outlive its deletion.
        with self._database.writer() as conn:
            if not self._session_files:
                counts[self._name] = conn.execute(delete(table).where(key.in_(batch))).rowcount
                return counts
            deleted = list(
                conn.execute(delete(table).where(key.in_(batch)).returning(key)).scalars()
            )
            # The files go before the rows are committed: if removing one fails, the
            # rows stay, and the next attempt can still find the files they name.
            for files in self._session_files:
                for session_id in deleted:
                    counts[files.name] += _remove(files.path(project_id, user_id, session_id))
        counts[self._name] = len(deleted)
        return counts

    def _key(self, table: Table) -> Any:
        if self._config.id_column:
            return table.c[self._config.id_column]
        primary = list(table.primary_key.columns)
        if len(primary) != 1:
            raise ConfigError(f"Target {self._name}: set id_column (no single-column primary key).")
        return primary[0]


def build_targets(config: TargetsConfig, service_database: Database) -> list[DeletionTarget]:
    databases: dict[str, Database] = {}

    def database_for(url: str | None) -> Database:
        if url is None:
            return service_database
        if url not in databases:
            databases[url] = Database(parse_database_url(url))
        return databases[url]

    patterns = {
        t.name: (t, FilePattern(t)) for t in config.targets if isinstance(t, FilesTargetConfig)
    }
    targets: list[DeletionTarget] = []
    for target in config.targets:
        if isinstance(target, SqlTargetConfig):
            attached = [p for c, p in patterns.values() if c.sessions_from == target.name]
            targets.append(SqlTarget(target, database_for(target.url), attached))
        elif target.sessions_from is None:
            targets.append(UserFilesTarget(patterns[target.name][1]))
    return targets

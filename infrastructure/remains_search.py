"""``jobtrail targets find``: every store the deletion targets name, searched for
a person (ADR 25).

1. Each target's own ``remaining()``: what a job would still delete there.
2. Every SQL database and ClickHouse server a target names, table by table, column
   by column (infrastructure.remains_sql, remains_clickhouse): the text that names
   the person and the columns that hold their sessions' keys, but the columns a
   target interprets, which its own count answers for; each place marked with the
   target that deletes or scrubs it, or with none (infrastructure.remains_coverage).
3. Every object pattern (an S3 prefix or key, a files pattern) that names
   ``{sessionId}``, for every session of the person, whichever store of sessions
   it is in.

The person is their user id, the anonymous ids their sessions carry (theirs
alone), and their sessions' keys, read from the stores of sessions while rows of
them remain.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from application.identities import Findings, Identities, SearchFailed
from application.ports import DeletionTarget, TransientTargetError
from domain.remains import RemainsPlace
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_server import ClickHouseServer, ClickHouseTargetError
from infrastructure.clickhouse_tables import ClickHouseTable
from infrastructure.database import Database, parse_database_url
from infrastructure.file_targets import FilePattern, TargetFileError, UnsafePath
from infrastructure.remains_clickhouse import ClickHouseRemains, clickhouse_session_identities
from infrastructure.remains_coverage import SQL_KINDS, Coverage, clickhouse_rule, sql_rule
from infrastructure.remains_identities import sql_session_identities
from infrastructure.remains_sql import SqlRemains
from infrastructure.s3_targets import S3Objects, S3TargetError
from infrastructure.sql_errors import SqlTargetError
from infrastructure.target_config import (
    ConfigError,
    FilesTargetConfig,
    S3TargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    column_names,
)

_SEARCH_ERRORS = (
    TransientTargetError,
    SqlTargetError,
    S3TargetError,
    TargetFileError,
    UnsafePath,
    ClickHouseTargetError,
    ConfigError,
)
"""Errors whose text names a target or store and a type or code, never a value."""
DEFAULT_KEY_COLUMN = "session_id"
_UNITS: dict[type, str] = {
    **dict.fromkeys([*SQL_KINDS, ClickHouseTargetConfig], "rows"),
    S3TargetConfig: "objects",
    FilesTargetConfig: "files",
}


class TargetsRemains:
    """The searcher of one configuration's stores (application.ports.RemainsSearcher)."""

    def __init__(
        self,
        config: TargetsConfig,
        service_database: Database,
        targets: Sequence[DeletionTarget],
    ) -> None:
        self._config = config
        self._service = service_database
        self._targets = targets
        self._databases: dict[str | None, Database] = {None: service_database}
        self._servers: dict[str, ClickHouseServer] = {}

    def identities(self, project_id: int, user_id: str) -> Identities:
        found = Identities(user_id)
        with _failures():
            for sessions in self._sql_sessions():
                database = self._database(sessions.url)
                found = found.merged(
                    sql_session_identities(sessions, database, project_id, user_id)
                )
            for ch in self._clickhouse_sessions():
                table = ClickHouseTable(self._server(ch.url), ch.name, ch.table)
                found = found.merged(clickhouse_session_identities(ch, table, project_id, user_id))
        return found

    def search(self, project_id: int, identities: Identities) -> Findings:
        findings = Findings()
        with _failures():
            remaining = self._targets_remaining(project_id, identities.user_id, findings)
            names, keys = identities.names, identities.session_ids
            for url in self._sql_urls():
                store = self._sql_store(url)
                rules = [
                    sql_rule(t, self._config.targets)
                    for t in self._config.targets
                    if isinstance(t, SQL_KINDS) and t.url == url
                ]
                sqlite = self._database(url).backend == "sqlite"
                coverage = Coverage(rules, store.default_schema(), remaining, sqlite)
                findings.add(store.search(project_id, names, keys, coverage))
            for url, home in self._clickhouse_homes().items():
                server = self._server(url)
                table = ClickHouseTable(server, home.name, home.table)
                ch = ClickHouseRemains(
                    server, table, server.shown, self._project_columns(), self._key_columns()
                )
                rules = [
                    clickhouse_rule(t)
                    for t in self._config.targets
                    if isinstance(t, ClickHouseTargetConfig) and t.url == url
                ]
                findings.add(
                    ch.search(project_id, names, keys, Coverage(rules, "default", remaining))
                )
            findings.add(self._objects(project_id, identities))
        return findings

    def close(self) -> None:
        for url, database in self._databases.items():
            if url is not None:
                database.dispose()

    def _targets_remaining(
        self, project_id: int, user_id: str, findings: Findings
    ) -> dict[str, int]:
        """What each target still counts of the person, per receipt name; each count
        but an object pattern's (searched below, for every session) is a place."""
        kinds = {t.name: type(t) for t in self._config.targets}
        by_session = {name for name, _ in self._session_objects()}
        findings.searched["targets"] = len(self._config.targets)
        remaining: dict[str, int] = {}
        for target in self._targets:
            for name, count in target.remaining(project_id, user_id).items():
                remaining[name] = remaining.get(name, 0) + count
                if count and name not in by_session:
                    unit = _UNITS.get(kinds.get(name, SqlTargetConfig), "items")
                    covered = name if name in kinds else target.name
                    findings.places.append(RemainsPlace("target", name, count, unit, covered))
        return remaining

    def _objects(self, project_id: int, identities: Identities) -> Findings:
        findings = Findings(searched={"objectPatterns": 0})
        for name, config in self._session_objects():
            findings.searched["objectPatterns"] += 1
            if isinstance(config, S3TargetConfig):
                objects: S3Objects | FilePattern = S3Objects(config)
                store, where, unit = (
                    f"s3://{config.bucket}",
                    ", ".join(config.patterns()),
                    "objects",
                )
            else:
                objects = FilePattern(config)
                store, where, unit = f"files {config.directory}", config.pattern, "files"
            count = sum(
                objects.count(project_id, identities.user_id, _as_read(session))
                for session in sorted(identities.session_ids)
            )
            if count:
                findings.places.append(RemainsPlace(store, where, count, unit, name))
        return findings

    def _session_objects(self) -> list[tuple[str, S3TargetConfig | FilesTargetConfig]]:
        return [
            (t.name, t)
            for t in self._config.targets
            if isinstance(t, S3TargetConfig | FilesTargetConfig) and t.sessions_from is not None
        ]

    def _sql_sessions(self) -> list[SqlTargetConfig]:
        named = {getattr(t, "sessions_from", None) for t in self._config.targets}
        named |= {getattr(t, "identities_from", None) for t in self._config.targets}
        return [
            t
            for t in self._config.targets
            if isinstance(t, SqlTargetConfig)
            and t.sessions_from is None
            and (t.anonymous_id_column is not None or t.name in named)
        ]

    def _clickhouse_sessions(self) -> list[ClickHouseTargetConfig]:
        named = {getattr(t, "sessions_from", None) for t in self._config.targets}
        named |= {getattr(t, "identities_from", None) for t in self._config.targets}
        return [
            t
            for t in self._config.targets
            if isinstance(t, ClickHouseTargetConfig)
            and t.user_id_column is not None
            and not t.is_child
            and not t.is_values
            and (t.anonymous_id_column is not None or t.name in named)
        ]

    def _sql_urls(self) -> list[str | None]:
        urls = [t.url for t in self._config.targets if isinstance(t, SQL_KINDS)]
        return list(dict.fromkeys(urls))

    def _sql_store(self, url: str | None) -> SqlRemains:
        shown = self._service.url.shown if url is None else parse_database_url(url).shown
        return SqlRemains(self._database(url), shown, self._project_columns(), self._key_columns())

    def _clickhouse_homes(self) -> dict[str, ClickHouseTargetConfig]:
        """A target's table on each server: its database holds the scratch tables."""
        homes: dict[str, ClickHouseTargetConfig] = {}
        for t in self._config.targets:
            if isinstance(t, ClickHouseTargetConfig):
                homes.setdefault(t.url, t)
        return homes

    def _project_columns(self) -> list[str]:
        named = [getattr(t, "project_id_column", None) for t in self._config.targets]
        return list(dict.fromkeys(["project_id", *(n for n in named if n)]))

    def _key_columns(self) -> set[str]:
        """Columns named like a session's key: where another table keeps the sessions
        it belongs to (a configured child's single session column, or ClickHouse's)."""
        keys = {DEFAULT_KEY_COLUMN}
        sessions = {t.name for t in self._sql_sessions()}
        for t in self._config.targets:
            if (
                isinstance(t, SqlTargetConfig)
                and t.sessions_from in sessions
                and t.parent_column is None  # the sessions' own key, not a child's
            ):
                names = column_names(t.session_column)
                keys |= set(names) if len(names) == 1 else set()
            elif isinstance(t, ClickHouseTargetConfig) and t.is_child:
                keys.add(t.session_column)
        return keys

    def _database(self, url: str | None) -> Database:
        if url not in self._databases:
            assert url is not None
            self._databases[url] = Database(parse_database_url(url))
        return self._databases[url]

    def _server(self, url: str) -> ClickHouseServer:
        return self._servers.setdefault(url, ClickHouseServer(url))


def _as_read(session_key: str) -> int | str:
    """A session's key as its sessions table gave it to a job: the identities hold
    keys as text, and an object pattern reads a number's keys as numbers (so that
    ``{sessionId}e`` of session 12 is not taken for the session ``12e``)."""
    if session_key.isascii() and session_key.isdigit() and str(int(session_key)) == session_key:
        return int(session_key)
    return session_key


@contextmanager
def _failures() -> Iterator[None]:
    """A store's error as SearchFailed: its one line, nothing of the library's."""
    try:
        yield
    except _SEARCH_ERRORS as error:
        raise SearchFailed(str(error)) from None

"""Reading and seeding the embedded ``sessions`` table and its recordings."""

import random
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, cast, insert, literal, select
from sqlalchemy.types import String

from application.sessions import SessionView
from infrastructure.database import Database, parse_database_url
from infrastructure.key_patterns import path_segment
from infrastructure.sessions import sessions
from infrastructure.sql_exact import exactly
from infrastructure.target_config import SqlTargetConfig, load_config

_VIEW_COLUMNS = (
    "project_id",
    "session_id",
    "user_uuid",
    "user_id",
    "user_agent",
    "user_os",
    "user_browser",
    "user_device",
    "user_country",
    "start_ts",
    "duration",
    "events_count",
    "pages_count",
    "errors_count",
)
_TEXT_COLUMNS = {"session_id", "user_uuid", "user_agent", "user_os", "user_browser",
                 "user_device", "user_country"}  # fmt: skip


class SqlUserSessions:
    """A user's sessions in the sessions target's table: jobtrail's own embedded one,
    or the one the configuration names (an OpenReplay installation's, say). The user
    id is compared exactly (infrastructure.sql_exact): ``Alice``'s are not ``alice``'s."""

    def __init__(
        self,
        database: Database,
        table: str = "sessions",
        schema: str | None = None,
        user_column: str = "user_id",
        project_column: str = "project_id",
    ) -> None:
        self._db = database
        self._where = (schema, table)
        self._user_column = user_column
        self._project_column = project_column
        self._table: Table | None = sessions if (schema, table) == (None, "sessions") else None

    def of_user(
        self,
        project_id: int,
        user_id: str,
        start: int | None,
        end: int | None,
        limit: int,
        offset: int,
    ) -> list[SessionView]:
        table = self._resolved()
        started = table.c.start_ts
        query = select(*self._columns(table)).where(
            table.c[self._project_column] == project_id,
            exactly(table.c[self._user_column], user_id),
        )
        if start is not None:
            query = query.where(started >= start)
        if end is not None:
            query = query.where(started <= end)
        query = query.order_by(started.desc()).limit(limit).offset(offset)
        with self._db.reader() as conn:
            return [SessionView(*row) for row in conn.execute(query)]

    def _resolved(self) -> Table:
        if self._table is None:
            schema, name = self._where
            self._table = Table(name, MetaData(), schema=schema, autoload_with=self._db.engine)
        return self._table

    def _columns(self, table: Table) -> list[Any]:
        columns: list[Any] = []
        for name in _VIEW_COLUMNS:
            source = {"user_id": self._user_column, "project_id": self._project_column}.get(
                name, name
            )
            if source not in table.c:  # a table without it answers a neutral value
                columns.append(literal("" if name in _TEXT_COLUMNS else 0).label(name))
            elif name in _TEXT_COLUMNS:
                columns.append(cast(table.c[source], String).label(name))
            else:
                columns.append(table.c[source].label(name))
        return columns


class ConfiguredSessions:
    """The sessions of the configured ``sessions`` target, found on first use (the
    configuration is checked when a server or worker starts; a command that never
    reads sessions never reads it)."""

    def __init__(self, config_path: str | None, database: Database) -> None:
        self._config_path = config_path
        self._database = database
        self._sessions: SqlUserSessions | None = None

    def of_user(
        self,
        project_id: int,
        user_id: str,
        start: int | None,
        end: int | None,
        limit: int,
        offset: int,
    ) -> list[SessionView]:
        if self._sessions is None:
            self._sessions = configured_sessions(self._config_path, self._database)
        return self._sessions.of_user(project_id, user_id, start, end, limit, offset)


def configured_sessions(config_path: str | None, database: Database) -> SqlUserSessions:
    """The sessions the API reads: those of the SQL target named ``sessions``, or else
    of the first one of a ``sessions`` table (``openreplay import`` names its targets
    after their tables: ``public.sessions``)."""
    config = load_config(config_path)
    sql = [t for t in config.targets if isinstance(t, SqlTargetConfig) and not t.sessions_from]
    target = next((t for t in sql if t.name == "sessions"), None) or next(
        (t for t in sql if t.schema_and_table()[1] == "sessions"), None
    )
    if target is None or config_path is None:
        return SqlUserSessions(database)
    schema, table = target.schema_and_table()
    return SqlUserSessions(
        Database(parse_database_url(target.url)) if target.url else database,
        table,
        schema,
        target.user_id_column,
        target.project_id_column,
    )


_BROWSERS = [
    ("Chrome", "Mozilla/5.0 (Macintosh) Chrome/120.0"),
    ("Firefox", "Mozilla/5.0 Firefox/121.0"),
    ("Safari", "Mozilla/5.0 (iPhone) Safari/604.1"),
    ("Edge", "Mozilla/5.0 Edg/120.0"),
]
_OSES = ["Mac OS X", "Windows", "Linux", "iOS", "Android"]
_DEVICES = ["", "iPhone", "Pixel 8", "Galaxy S23"]
_COUNTRIES = ["FR", "DE", "IN", "US", "BR", "JP", "NG", "GB"]
SEED_BATCH = 5000


def demo_user_ids(count: int) -> list[str]:
    return [f"user{n}@example.com" for n in range(count)]


def seed_sessions(
    database: Database,
    project_id: int,
    user_ids: Sequence[str],
    sessions_per_user: int,
    recordings: Path | None,
    now_ms: int = 1_750_000_000_000,
) -> int:
    """Fills the sessions table (and one recording file per session); returns rows added."""
    rng = random.Random(project_id * 7919 + len(user_ids))
    rows: list[dict[str, Any]] = []
    added = 0
    with database.writer() as conn:
        for user_id in user_ids:
            user_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for _ in range(sessions_per_user):
                browser, agent = rng.choice(_BROWSERS)
                rows.append(
                    {
                        "project_id": project_id,
                        "user_id": user_id,
                        "user_uuid": user_uuid,
                        "user_agent": agent,
                        "user_os": rng.choice(_OSES),
                        "user_browser": browser,
                        "user_device": rng.choice(_DEVICES),
                        "user_country": rng.choice(_COUNTRIES),
                        "start_ts": now_ms - rng.randrange(90 * 86_400_000),
                        "duration": rng.randrange(1_000, 3_600_000),
                        "events_count": rng.randrange(1, 500),
                        "pages_count": rng.randrange(1, 40),
                        "errors_count": rng.randrange(0, 5),
                    }
                )
                if len(rows) >= SEED_BATCH:
                    added += _flush(conn, rows, project_id, recordings)
        added += _flush(conn, rows, project_id, recordings)
    return added


def _flush(conn: Any, rows: list[dict[str, Any]], project_id: int, recordings: Path | None) -> int:
    if not rows:
        return 0
    ids = conn.execute(insert(sessions).returning(sessions.c.session_id), rows).scalars().all()
    if recordings is not None:
        folder = recordings / path_segment(str(project_id))
        folder.mkdir(parents=True, exist_ok=True)
        for session_id in ids:
            (folder / path_segment(str(session_id))).write_bytes(b"MOB1" + bytes(60))
    count = len(rows)
    rows.clear()
    return count

"""Reading and seeding the embedded ``sessions`` table and its recordings."""

import random
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import cast, insert, select
from sqlalchemy.types import String

from application.sessions import SessionView
from infrastructure.database import Database
from infrastructure.sessions import sessions
from infrastructure.targets import path_segment

_COLUMNS = (
    sessions.c.project_id,
    cast(sessions.c.session_id, String),
    sessions.c.user_uuid,
    sessions.c.user_id,
    sessions.c.user_agent,
    sessions.c.user_os,
    sessions.c.user_browser,
    sessions.c.user_device,
    sessions.c.user_country,
    sessions.c.start_ts,
    sessions.c.duration,
    sessions.c.events_count,
    sessions.c.pages_count,
    sessions.c.errors_count,
)


class SqlUserSessions:
    def __init__(self, database: Database) -> None:
        self._db = database

    def of_user(
        self,
        project_id: int,
        user_id: str,
        start: int | None,
        end: int | None,
        limit: int,
        offset: int,
    ) -> list[SessionView]:
        query = select(*_COLUMNS).where(
            sessions.c.project_id == project_id, sessions.c.user_id == user_id
        )
        if start is not None:
            query = query.where(sessions.c.start_ts >= start)
        if end is not None:
            query = query.where(sessions.c.start_ts <= end)
        query = query.order_by(sessions.c.start_ts.desc()).limit(limit).offset(offset)
        with self._db.reader() as conn:
            return [SessionView(*row) for row in conn.execute(query)]


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

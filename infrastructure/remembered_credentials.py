"""What requests read of the tenancy tables, through the API's reader on the event
loop; a key and a project remembered for a few seconds; and when each key was last
used, written off the request's path (application.ports.Credentials). Without the
memo a request would cost two more queries, and without the thread a write."""

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from application.tenants import Principal, Project, StoredKey
from infrastructure.async_reads import AsyncReader
from infrastructure.tenancy_store import (
    KEY,
    OPEN_DASHBOARD_LOGIN,
    PROJECT_BY_KEY,
    PROJECTS_OF,
    SqlTenancyStore,
)

log = logging.getLogger("jobtrail.tenancy")

LAST_USE_PRECISION_MS = 60_000
"""A key's last use is written at most once a minute per process, not per request."""


class TtlCache:
    """A small time-bounded memo of lookups that hit the database on every request."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}

    async def get(self, key: str, load: Callable[[str], Awaitable[Any]]) -> Any:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = await load(key)
        # Misses are remembered too: a lookup then costs the same whether the key or
        # project exists or not, so timing does not tell which do. Keys and project
        # keys are random, so nobody asks for one before it exists.
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (now + self._seconds, value)
        return value

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


class RememberedCredentials:
    """A key revoked or rotated in another process stops working here within
    ``seconds`` (in this one, at once)."""

    def __init__(self, store: SqlTenancyStore, reader: AsyncReader, seconds: float = 10.0) -> None:
        self._store = store
        self._reader = reader
        self._keys = TtlCache(seconds)
        self._projects = TtlCache(seconds)
        self._last_use: dict[str, int] = {}

    async def key(self, key_id: str) -> StoredKey | None:
        key: StoredKey | None = await self._keys.get(key_id, self._read_key)
        return key

    async def project(self, project_key: str) -> Project | None:
        project: Project | None = await self._projects.get(project_key, self._read_project)
        return project

    async def dashboard_login(self, login_id: str) -> Principal | None:
        rows = await self._reader.rows(OPEN_DASHBOARD_LOGIN, {"login_id": login_id})
        return Principal(*rows[0]) if rows else None

    async def projects_of(self, org_id: int) -> list[Project]:
        return [Project(*row) for row in await self._reader.rows(PROJECTS_OF, {"org_id": org_id})]

    async def _read_key(self, key_id: str) -> StoredKey | None:
        rows = await self._reader.rows(KEY, {"key_id": key_id})
        return StoredKey(*rows[0]) if rows else None

    async def _read_project(self, project_key: str) -> Project | None:
        rows = await self._reader.rows(PROJECT_BY_KEY, {"project_key": project_key})
        return Project(*rows[0]) if rows else None

    def forget_key(self, key_id: str) -> None:
        self._keys.forget(key_id)

    def used(self, key_id: str, at: int) -> None:
        if at - self._last_use.get(key_id, 0) < LAST_USE_PRECISION_MS:
            return
        self._last_use[key_id] = at
        # Off the request's path: a read must not wait for a write lock, nor fail on
        # a read-only database, to note when a key was used.
        threading.Thread(target=self._touch, args=(key_id, at), daemon=True).start()

    def _touch(self, key_id: str, at: int) -> None:
        try:
            self._store.touch_key(key_id, at)
        except Exception as error:
            log.warning("could not note the last use of key %s: %s", key_id, type(error).__name__)

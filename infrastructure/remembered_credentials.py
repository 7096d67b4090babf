"""What every request looks up, its key and its project, remembered for a few seconds;
and when each key was last used, written off the request's path
(application.ports.Credentials). Without them a request would cost two more
queries and a write."""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from application.errors import WouldWait
from application.tenants import Project, StoredKey
from infrastructure.tenancy_store import SqlTenancyStore

log = logging.getLogger("jobtrail.tenancy")

LAST_USE_PRECISION_MS = 60_000
"""A key's last use is written at most once a minute per process, not per request."""


class TtlCache:
    """A small time-bounded memo of lookups that hit the database on every request."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[str], Any]) -> Any:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = load(key)
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

    def __init__(self, store: SqlTenancyStore, seconds: float = 10.0) -> None:
        self._store = store
        self._keys = TtlCache(seconds)
        self._projects = TtlCache(seconds)
        self._last_use: dict[str, int] = {}

    def key(self, key_id: str, remembered_only: bool = False) -> StoredKey | None:
        key: StoredKey | None = self._keys.get(
            key_id, _not_remembered if remembered_only else self._store.key
        )
        return key

    def project(self, project_key: str, remembered_only: bool = False) -> Project | None:
        project: Project | None = self._projects.get(
            project_key, _not_remembered if remembered_only else self._store.project_by_key
        )
        return project

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


def _not_remembered(key: str) -> None:
    raise WouldWait("not in memory: the database would have to be asked")

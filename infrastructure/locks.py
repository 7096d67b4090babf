"""Exclusive roles across processes: one projection leader, one rebuild at a time.

On PostgreSQL a session-level advisory lock, held by a dedicated connection: if
the holder dies its session ends and the lock is free. On SQLite an flock on a
file beside the database, which the kernel releases when the process dies.
"""

import contextlib
import fcntl
import hashlib
import os
import time
from pathlib import Path
from typing import IO, Any

import psycopg
import psycopg.sql

from infrastructure.database import Database


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class ExclusiveRole:
    def __init__(self, database: Database, name: str) -> None:
        self._db = database
        self._name = name
        self._conn: psycopg.Connection[Any] | None = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    @property
    def connection(self) -> "psycopg.Connection[Any] | None":
        """The PostgreSQL session that holds the role (for LISTEN)."""
        return self._conn

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._db.backend == "postgresql":
            return self._try_advisory_lock()
        return self._try_flock()

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _try_advisory_lock(self) -> bool:
        url = self._db.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        options = f"-csearch_path={self._db.url.schema}" if self._db.url.schema else None
        conn = psycopg.connect(conninfo, autocommit=True, options=options, connect_timeout=5)
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (_key(self._scoped_name()),)
        ).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def _scoped_name(self) -> str:
        # Advisory locks are database-wide: a schema is a separate deployment.
        return f"{self._db.url.schema or 'public'}:{self._name}"

    def _try_flock(self) -> bool:
        database_file = Path(self._db.url.eventsourcing_env["SQLITE_DBNAME"])
        lock_path = database_file.with_name(f"{database_file.name}.{self._name}.lock")
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held open while the role is held
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        return True


class ProjectionLeadership(ExclusiveRole):
    """Leadership of one projection, woken by the event store's NOTIFY on PostgreSQL."""

    def __init__(self, database: Database, projection: str) -> None:
        super().__init__(database, f"projection-{projection}")
        self._listening = False

    def release(self) -> None:
        super().release()
        self._listening = False

    def wait_for_events(self, timeout: float) -> bool:
        conn = self.connection
        if conn is None:
            time.sleep(timeout)
            return False
        if not self._listening:
            channel = psycopg.sql.Identifier(self._db.url.events_channel)
            conn.execute(psycopg.sql.SQL("LISTEN {0}").format(channel))
            self._listening = True
        return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))

"""The API's reads of the database, awaited on the event loop (ADR 28).

Every GET of the API and the dashboard reads through one reader per process,
opened and closed by the HTTP app on its loop:

- PostgreSQL: psycopg's asyncio pool, its connections in autocommit (one statement
  needs no transaction) and its statements prepared. A connection the server ended
  (a kill, a restart) is replaced before a request meets it, as in every pool
  (infrastructure.liveness); past ``WAITING_AT_MOST`` reads waiting for a
  connection, the next is refused at once (``Overloaded``) rather than queued to
  its deadline.
- SQLite: the file read on a read-only connection of the loop's own, in WAL mode
  (a point read or a page takes tens of microseconds; a thread's hop cost a third of
  the rate, docs/benchmarks.md). A lock (a checkpoint, a recovery) is met at once
  and waited for by awaiting, never by blocking the loop, as long as the request's
  deadline allows.

Statements are SQLAlchemy Core, built once by the adapters that use them and
compiled here to the driver's SQL: one statement for each read, whichever side
runs it.
"""

import asyncio
import sqlite3
from typing import Any, Protocol

import psycopg
from psycopg_pool import PoolTimeout, TooManyRequests
from sqlalchemy import Executable

from infrastructure.database import Database, DatabaseUnavailable
from infrastructure.liveness import LivelyAsyncConnectionPool, loop_pool

WAITING_AT_MOST = 200
"""Reads waiting for a PostgreSQL connection before the next is
refused (503 at once): a read holds its connection for well under a millisecond, so
this queue drains in a few milliseconds; a longer one only means a database that is
not answering, and 503s at the deadline instead."""
LOCKED_FIRST_PAUSE, LOCKED_LONGEST_PAUSE = 0.001, 0.05
"""How long a SQLite read waits, doubling, before it tries a locked file again."""
_LOCKED = ("database is locked", "database table is locked", "database is busy")

Rows = list[tuple[Any, ...]]


class Overloaded(DatabaseUnavailable):
    """Too many wait already (reads for a connection, scheduling requests for a
    batch, blocking handlers for a thread): answered 503 at once, with Retry-After
    (api.in_time)."""


class AsyncReader(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def rows(self, statement: Executable, values: dict[str, Any]) -> Rows:
        """The statement's rows; DatabaseUnavailable if the database cannot answer."""
        ...


class SQLiteReader:
    """The file read on the loop's own connection, which never waits for a lock: a
    lock is met at once (``timeout=0``) and waited for by awaiting, so the loop goes
    on serving the rest meanwhile."""

    def __init__(self, database: Database) -> None:
        file = database.url.sqlite_file
        assert file is not None
        self._file = str(file)
        self._database = database
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        connection = sqlite3.connect(self._file, timeout=0, isolation_level=None)
        connection.execute("PRAGMA query_only = ON")
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def rows(self, statement: Executable, values: dict[str, Any]) -> Rows:
        if self._connection is None:
            raise DatabaseUnavailable("the SQLite reader is not open")
        sql, params = self._database.bound(statement, values)
        pause = LOCKED_FIRST_PAUSE
        while True:
            try:
                return self._connection.execute(sql, params).fetchall()
            except sqlite3.OperationalError as error:
                if not str(error).startswith(_LOCKED):
                    raise DatabaseUnavailable(str(error)) from error
            # The request's deadline (api.in_time) bounds how long this goes on.
            await asyncio.sleep(pause)
            pause = min(pause * 2, LOCKED_LONGEST_PAUSE)


class PostgresReader:
    def __init__(self, database: Database, size: int, timeout: float) -> None:
        self._database = database
        self._size, self._timeout = size, timeout
        self._pool: LivelyAsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    async def open(self) -> None:
        """A new pool, on the running loop (a closed pool cannot be opened again)."""
        self._pool = await loop_pool(
            self._database.url, "reads", self._size, self._timeout, WAITING_AT_MOST
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def rows(self, statement: Executable, values: dict[str, Any]) -> Rows:
        pool = self._pool
        if pool is None:
            raise DatabaseUnavailable("the PostgreSQL reader is not open")
        sql, params = self._database.bound(statement, values)
        try:
            async with pool.connection() as connection:
                cursor = await connection.execute(sql, params, prepare=True)
                return await cursor.fetchall()
        except TooManyRequests as error:
            raise Overloaded(str(error)) from error
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise DatabaseUnavailable(str(error)) from error


def async_reader(database: Database, size: int, timeout: float) -> AsyncReader:
    if database.backend == "sqlite":
        return SQLiteReader(database)
    return PostgresReader(database, size, timeout)

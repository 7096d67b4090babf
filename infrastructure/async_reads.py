"""The API's reads of the database, awaited on the event loop (ADR 28).

Every GET of the API and the dashboard reads through one reader per process,
opened and closed by the HTTP app on its loop:

- PostgreSQL: psycopg's asyncio pool, its connections in autocommit (one statement
  needs no transaction) and its statements prepared. A connection the server ended
  (a kill, a restart) is replaced before a request meets it, as in every pool
  (infrastructure.liveness); past ``WAITING_AT_MOST`` reads waiting for a
  connection, the next is refused at once (``Overloaded``) rather than queued to
  its deadline.
- SQLite: the file read by a few threads of the reader's own, each with its own
  read-only connection, the loop awaiting them. The loop itself never runs a query:
  a page of a large project, or a user searched by prefix, may scan for a while,
  and a checkpoint may hold the file's lock; neither may stop every other request.
  A read waits for a lock as long as the request's deadline allows.

Statements are SQLAlchemy Core, built once by the adapters that use them and
compiled here to the driver's SQL: one statement for each read, whichever side
runs it.
"""

import asyncio
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import psycopg
from psycopg_pool import PoolTimeout, TooManyRequests
from sqlalchemy import Executable

from infrastructure.database import Database, DatabaseUnavailable
from infrastructure.database_url import SQLITE_BUSY_TIMEOUT_SECONDS
from infrastructure.liveness import LivelyAsyncConnectionPool

WAITING_AT_MOST = 200
"""Reads waiting for a connection (or a SQLite reader thread) before the next is
refused (503 at once): a read holds its connection for well under a millisecond, so
this queue drains in a few milliseconds; a longer one only means a database that is
not answering, and 503s at the deadline instead."""
SQLITE_READER_THREADS = 2
"""One per core of the machine this was measured on: SQLite reads in parallel, but
Python decodes the rows one thread at a time."""

Rows = list[tuple[Any, ...]]


class Overloaded(DatabaseUnavailable):
    """Too many reads wait already: answered 503 at once, with Retry-After."""


class AsyncReader(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def rows(self, statement: Executable, values: dict[str, Any]) -> Rows:
        """The statement's rows; DatabaseUnavailable if the database cannot answer."""
        ...


class SQLiteReader:
    def __init__(self, database: Database, threads: int = SQLITE_READER_THREADS) -> None:
        file = database.url.sqlite_file
        assert file is not None
        self._file = str(file)
        self._database = database
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._waiting = 0

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="sqlite-reads")

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
        for connection in self._connections:
            connection.close()
        self._connections.clear()

    async def rows(self, statement: Executable, values: dict[str, Any]) -> Rows:
        executor = self._executor
        if executor is None:
            raise DatabaseUnavailable("the SQLite reader is not open")
        if self._waiting >= WAITING_AT_MOST:
            raise Overloaded(f"{self._waiting} reads wait for a reader thread already")
        sql, params = self._database.bound(statement, values)
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                executor, self._read, sql, params
            )
        finally:
            self._waiting -= 1

    def _read(self, sql: str, params: Any) -> Rows:
        """In a reader thread, on that thread's own connection."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self._file, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
            self._local.connection = connection
            self._connections.append(connection)
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            raise DatabaseUnavailable(str(error)) from error


class PostgresReader:
    def __init__(self, database: Database, size: int, timeout: float) -> None:
        url = database.url
        self._conninfo = url.libpq_conninfo
        self._database = database
        self._size, self._timeout = size, timeout
        self._options = {"options": f"-csearch_path={url.schema}"} if url.schema else {}
        self._pool: LivelyAsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    async def open(self) -> None:
        """A new pool, on the running loop (a closed pool cannot be opened again)."""
        self._pool = LivelyAsyncConnectionPool(
            self._conninfo,
            kwargs={
                "autocommit": True,
                "connect_timeout": 5,
                # Which process's connections these are, in pg_stat_activity.
                "application_name": f"jobtrail reads {os.getpid()}",
                **self._options,
            },
            min_size=1,
            max_size=self._size,
            open=False,
            timeout=self._timeout,
            max_waiting=WAITING_AT_MOST,
            name="jobtrail-reads",
        )
        # Not waiting for the first connection: a database that is down at start is
        # reported by the requests (503), not by a hang here.
        await self._pool.open(wait=False)

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

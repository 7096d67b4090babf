"""``GET /jobs/{jobId}`` and a page of ``GET /jobs`` answered on the event loop,
without a thread (ADR 22).

The hottest reads are one row by primary key and a page of a project's jobs.
Handing them to a thread costs more than the query: on this machine about 0.3 ms
of CPU per request, most of it the hand-offs between the loop and the thread. So
the rows are read where the request already is:

- PostgreSQL: psycopg's asyncio pool, its connections in autocommit (one statement
  needs no transaction). A connection the server ended (a kill, a restart) is
  replaced before a request meets it, as in every pool (infrastructure.liveness);
  past ``WAITING_FOR_A_CONNECTION_AT_MOST`` reads waiting for a connection, the
  next is refused at once (``Overloaded``) rather than queued to its deadline.
- SQLite: the file read in-process, on a connection of the loop's own that never
  waits for a lock: a point read in WAL mode takes microseconds, but a lock held
  by a checkpoint or a recovery would stop the whole loop for the busy timeout.
  When the database says busy, or a page lies deep enough to take a while, the
  request is handed to a thread (``WouldWait``).

The statements and the rows' meaning are the read model's (``GET_JOB``,
``PAGE_OF_JOBS``, ``job_from_row``, ``views_of``): one query for each, whichever side
runs it.
"""

import os
import sqlite3
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout, TooManyRequests
from sqlalchemy import Executable

from application.errors import WouldWait
from application.job_records import JobView, views_of
from application.ports import JobReaderOnLoop
from infrastructure.database import Database, DatabaseUnavailable
from infrastructure.liveness import LivelyAsyncConnectionPool
from infrastructure.read_model import GET_JOB, PAGE_OF_JOBS, job_from_row, page_values

SQLITE_DEEPEST_OFFSET = 2_000
"""A page further down than this is read in a thread on SQLite: skipping rows to an
offset takes time in proportion, and the loop must not stop for it."""
_BUSY = ("database is locked", "database table is locked", "database is busy")
WAITING_FOR_A_CONNECTION_AT_MOST = 200
"""Reads on the event loop waiting for one of the pool's connections before the next
is refused (503 at once): a read holds its connection for well under a millisecond,
so the pool's 15 connections serve this queue in a few milliseconds; a longer one
only means a database that is not answering, and 503s at the deadline instead."""


class Overloaded(DatabaseUnavailable):
    """Too many requests wait already: answered 503 at once, with Retry-After."""


class SQLiteLoopReader:
    def __init__(self, database: Database) -> None:
        file = database.url.sqlite_file
        assert file is not None
        self._file = str(file)
        self._database = database
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        # timeout=0: a lock is reported at once (and the request goes to a thread)
        # instead of being waited for here, on the loop.
        connection = sqlite3.connect(self._file, timeout=0, isolation_level=None)
        connection.execute("PRAGMA query_only = ON")
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def get(self, project_id: int, job_id: int) -> JobView | None:
        rows = self._rows(GET_JOB, {"job_id": job_id, "project_id": project_id})
        return job_from_row(job_id, rows[0] if rows else None)

    async def page(
        self, project_id: int, status: str | None, limit: int, offset: int
    ) -> list[JobView]:
        if offset > SQLITE_DEEPEST_OFFSET:
            raise WouldWait(f"offset {offset} is deep enough to take a while")
        values = page_values(project_id, status, limit, offset)
        return views_of(self._rows(PAGE_OF_JOBS[status is not None], values))

    def _rows(self, statement: Executable, values: dict[str, Any]) -> list[Any]:
        if self._connection is None:
            raise WouldWait("the loop's SQLite connection is not open")
        try:
            return self._connection.execute(*self._database.bound(statement, values)).fetchall()
        except sqlite3.OperationalError as error:
            if str(error).startswith(_BUSY):
                raise WouldWait(str(error)) from error
            raise DatabaseUnavailable(str(error)) from error


class PostgresLoopReader:
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
                "application_name": f"jobtrail loop reads {os.getpid()}",
                **self._options,
            },
            min_size=1,
            max_size=self._size,
            open=False,
            timeout=self._timeout,
            max_waiting=WAITING_FOR_A_CONNECTION_AT_MOST,
            name="jobtrail-loop-reads",
        )
        # Not waiting for the first connection: a database that is down at start is
        # reported by the requests (503), as on the threads' side, not by a hang here.
        await self._pool.open(wait=False)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def get(self, project_id: int, job_id: int) -> JobView | None:
        rows = await self._rows(GET_JOB, {"job_id": job_id, "project_id": project_id})
        return job_from_row(job_id, rows[0] if rows else None)

    async def page(
        self, project_id: int, status: str | None, limit: int, offset: int
    ) -> list[JobView]:
        values = page_values(project_id, status, limit, offset)
        return views_of(await self._rows(PAGE_OF_JOBS[status is not None], values))

    async def _rows(self, statement: Executable, values: dict[str, Any]) -> list[Any]:
        pool = self._pool
        if pool is None:
            raise WouldWait("the loop's PostgreSQL pool is not open")
        sql, params = self._database.bound(statement, values)
        try:
            async with pool.connection() as connection:
                cursor = await connection.execute(sql, params, prepare=True)
                rows = await cursor.fetchall()
        except TooManyRequests as error:
            raise Overloaded(str(error)) from error
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise DatabaseUnavailable(str(error)) from error
        return rows


def loop_reader(database: Database, size: int, timeout: float) -> JobReaderOnLoop:
    if database.backend == "sqlite":
        return SQLiteLoopReader(database)
    return PostgresLoopReader(database, size, timeout)

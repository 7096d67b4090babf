"""A pooled PostgreSQL connection the server has ended is found before a request
meets it, and replaced at once, in every pool of jobtrail's.

Between two statements the server has nothing to say to a connection, except that
it is ending it: ``pg_terminate_backend``, a restart or a crash send a FATAL error
and close the socket. So a connection whose socket has something to read (or that
has no socket any more) is pinged before use, and one that fails the ping is
replaced; a quiet one is used unchecked. Telling costs one ``poll`` of the socket,
no round trip, so every checkout is checked, however recently the connection was
used: a pool of connections all killed at once (a restart) is emptied and
refilled within the request that finds them.

psycopg's pools have a ``check`` callback, but after each failed check they wait
(1 s, then 2 s, 4 s...) before trying the next connection: a pool of dead
connections cost a request the whole deadline (issue 25). The pools here check
their connections themselves, in ``getconn``, and try the next one at once.
"""

import asyncio
import os
import select
from time import monotonic
from typing import Any, TypeVar

import psycopg
from eventsourcing.postgres import ConnectionPool, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg_pool import AsyncConnectionPool

from infrastructure.database_url import DatabaseUrl

SyncConnection = TypeVar("SyncConnection", bound=psycopg.Connection[Any])
AsyncConnection = TypeVar("AsyncConnection", bound=psycopg.AsyncConnection[Any])


def has_news(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection's socket has something to read or is gone: the
    server has ended it, or (rarely) sent a notice. ``poll``, not ``select``: a
    process serving thousands of clients has descriptors past select's 1024."""
    if connection.closed:
        return True
    try:
        socket = connection.fileno()
    except psycopg.OperationalError:
        return True
    poller = select.poll()
    poller.register(socket, select.POLLIN | select.POLLPRI)  # hang-ups and errors too
    return bool(poller.poll(0))


def _connection_arguments(pool: Any) -> tuple[str, dict[str, Any]]:
    """The pool's conninfo and kwargs, which jobtrail's pools give as they are (psycopg
    also takes functions that make them)."""
    assert isinstance(pool.conninfo, str) and isinstance(pool.kwargs, dict)
    return pool.conninfo, pool.kwargs


def _remaining(deadline: float) -> float:
    # psycopg's pools refuse a timeout of 0 even with a connection ready.
    return max(deadline - monotonic(), 0.001)


class LivelyConnectionPool(ConnectionPool[SyncConnection]):
    """eventsourcing's pool of the event store, whose checkout skips a connection the
    server has ended instead of waiting before the next (see the module)."""

    def getconn(self, timeout: float | None = None) -> SyncConnection:
        deadline = monotonic() + (self.timeout if timeout is None else timeout)
        # At most one pool's worth of dead connections to go through: the pool opens
        # a new one for each that is handed back closed.
        for _ in range(self.max_size):
            connection = super().getconn(_remaining(deadline))
            try:
                if has_news(connection):
                    ConnectionPool.check_connection(connection)
            except psycopg.Error:
                connection.close()  # handed back closed: the pool opens another
                self.putconn(connection)
                if not self.get_stats()["pool_available"]:
                    self._fail_if_unreachable()
                continue
            except BaseException:
                self.putconn(connection)
                raise
            return connection
        return super().getconn(_remaining(deadline))

    def _fail_if_unreachable(self) -> None:
        """The next checkout waits for the pool to open a connection, which it keeps
        trying in the background, while the request would wait for its deadline: a
        database that is down (a restart) is reported at once instead, by trying
        one here (a few milliseconds when it is up)."""
        conninfo, kwargs = _connection_arguments(self)
        psycopg.Connection.connect(conninfo, **kwargs).close()


class LivelyAsyncConnectionPool(AsyncConnectionPool[AsyncConnection]):
    """psycopg's asyncio pool (the event loop's reads), checked as
    :class:`LivelyConnectionPool` is."""

    async def getconn(self, timeout: float | None = None) -> AsyncConnection:
        deadline = monotonic() + (self.timeout if timeout is None else timeout)
        for _ in range(self.max_size):
            connection = await super().getconn(_remaining(deadline))
            try:
                if has_news(connection):
                    await AsyncConnectionPool.check_connection(connection)
            except psycopg.Error:
                # Shielded: a deadline must not keep a dead connection out of the
                # pool, which would count it against its size for good.
                await asyncio.shield(self._discard(connection))
                if not self.get_stats()["pool_available"]:
                    await self._fail_if_unreachable()
                continue
            except BaseException:  # cancelled: the connection goes back all the same
                await self.putconn(connection)
                raise
            return connection
        return await super().getconn(_remaining(deadline))

    async def _discard(self, connection: AsyncConnection) -> None:
        await connection.close()  # handed back closed: the pool opens another
        await self.putconn(connection)

    async def _fail_if_unreachable(self) -> None:
        """As :meth:`LivelyConnectionPool._fail_if_unreachable`."""
        conninfo, kwargs = _connection_arguments(self)
        connection = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
        await connection.close()


class LivelyPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL infrastructure (``PERSISTENCE_MODULE``), its pool a
    :class:`LivelyConnectionPool`: no ping on every checkout (``POSTGRES_PRE_PING``),
    and no wait of a second or more after each dead connection."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        # Made but not opened (eventsourcing opens it on first use), and the subclass
        # only replaces getconn: the pool keeps every setting eventsourcing gave it.
        pool.__class__ = LivelyConnectionPool
        # Which process's connections these are, in pg_stat_activity.
        assert isinstance(pool.kwargs, dict)
        pool.kwargs["application_name"] = f"jobtrail event store {os.getpid()}"
        # As every pool of jobtrail's: a host that does not answer is given up on.
        pool.kwargs.setdefault("connect_timeout", 5)


async def loop_pool(
    url: DatabaseUrl,
    purpose: str,
    size: int,
    timeout: float,
    max_waiting: int = 0,
    statement_timeout: float | None = None,
) -> "LivelyAsyncConnectionPool[psycopg.AsyncConnection[Any]]":
    """A new asyncio pool on the running loop, its connections in autocommit, named
    ``jobtrail <purpose> <pid>`` in pg_stat_activity. It does not wait for its first
    connection: a database that is down at start is reported by the requests (503),
    not by a hang here."""
    settings = [f"-csearch_path={url.schema}"] if url.schema else []
    if statement_timeout is not None:
        settings.append(f"-cstatement_timeout={round(statement_timeout * 1000)}")
    options = {"options": " ".join(settings)} if settings else {}
    pool: LivelyAsyncConnectionPool[psycopg.AsyncConnection[Any]] = LivelyAsyncConnectionPool(
        url.libpq_conninfo,
        kwargs={
            "autocommit": True,
            "connect_timeout": 5,
            "application_name": f"jobtrail {purpose} {os.getpid()}",
            **options,
        },
        min_size=1,
        max_size=size,
        open=False,
        timeout=timeout,
        max_waiting=max_waiting,
        name=f"jobtrail-{purpose}",
    )
    await pool.open(wait=False)
    return pool

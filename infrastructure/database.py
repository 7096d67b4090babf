"""One database URL configures everything: the event store and the read model.

SQLite (the embedded default) and PostgreSQL (production) hold the same tables.
The event store is eventsourcing's own recorder; the read model and the tenancy
tables are SQLAlchemy Core, in the same database.
"""

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Executable, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import NullPool

from infrastructure.database_url import SQLITE_BUSY_TIMEOUT_SECONDS, Backend, DatabaseUrl
from infrastructure.database_url import parse_database_url as parse_database_url
from infrastructure.liveness import has_news
from infrastructure.settings import SettingsError

Health = Literal["ok", "read-only", "unreachable"]
# Tables only jobtrail makes: another eventsourcing application's file has an events
# table too, and must not pass for jobtrail's.
_JOBTRAIL_TABLES = frozenset({"event_chain", "projection_positions"})
# Arbitrary but fixed: serialises schema creation between processes on PostgreSQL.
_SCHEMA_LOCK_KEY = 0x6A6F6274


class DatabaseUnavailable(Exception):
    """The database could not be reached or answered with a connection error."""


class Database:
    """The SQLAlchemy side of the database: engines and transactions."""

    @staticmethod
    def check_can_create(url: DatabaseUrl) -> None:
        """A SQLite file can be made only in a folder that exists: say which, plainly."""
        file = url.sqlite_file
        if file is not None and not file.resolve().parent.is_dir():
            raise SettingsError(
                f"The folder {file.resolve().parent} for the SQLite database does not exist."
            )
        if file is not None and file.is_dir():
            raise SettingsError(f"{file.resolve()} is a folder, not a SQLite database file.")

    @staticmethod
    def holds_jobtrail(url: DatabaseUrl) -> bool:
        """Whether jobtrail's own tables are there, looked at without changing a byte
        (SQLite is opened read-only: an engine's first connection would switch the
        file to WAL), and without an engine of jobtrail's."""
        file = url.sqlite_file
        if file is not None:
            if not file.is_file():
                return False
            with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as conn:
                names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            return names >= _JOBTRAIL_TABLES
        engine = create_engine(
            url.sqlalchemy_url,
            connect_args={"options": f"-csearch_path={url.schema}"} if url.schema else {},
            poolclass=NullPool,
        )
        try:
            inspector = inspect(engine)
            return all(inspector.has_table(name) for name in _JOBTRAIL_TABLES)
        finally:
            engine.dispose()

    def __init__(self, url: DatabaseUrl, pool_size: int = 5, max_overflow: int = 10) -> None:
        self.url = url
        self.engine = _engine(url, pool_size, max_overflow)
        self._compiled_cache: dict[int, tuple[str, tuple[str, ...]]] = {}

    @property
    def backend(self) -> Backend:
        return self.url.backend

    @contextmanager
    def writer(self, durable: bool = True) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the write lock at BEGIN, so two
        writers queue instead of deadlocking when both upgrade a read lock.

        ``durable=False`` is for data derived from the log (the read model, id
        high-water marks): its commit skips the fsync (SQLite's synchronous=NORMAL,
        PostgreSQL's synchronous_commit off). It stays atomic and is visible at once;
        after a power cut the last such commits may be lost and are redone from
        the log, and the log's own durable commit flushes everything before it."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(jobtrail_immediate=True)
            if self.backend == "sqlite":
                # On the driver's own connection: a PRAGMA inside BEGIN is refused.
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            with conn.begin():
                if not durable and self.backend == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """Reads. On SQLite without BEGIN/COMMIT: each statement is its own snapshot,
        which is all a single-statement read needs, and saves two round trips."""
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                conn = conn.execution_options(jobtrail_autocommit=True)
            with conn.begin():
                yield conn

    def fetch_one(self, statement: Executable, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """One row by a statement built once, on the driver's own cursor (the tools'
        and the worker's reads; the API's go through infrastructure.async_reads)."""
        rows = self.fetch_raw(*self.bound(statement, values), one=True)
        return rows[0] if rows else None

    def fetch_all(self, statement: Executable, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as :meth:`fetch_one` reads one."""
        return self.fetch_raw(*self.bound(statement, values))

    def bound(self, statement: Executable, values: dict[str, Any]) -> tuple[str, Any]:
        """The driver's SQL for a statement, and its parameters in the driver's form."""
        sql, order = self.compiled(statement)
        return sql, tuple(values[name] for name in order) if order else values

    def fetch_raw(self, sql: str, params: Any, one: bool = False) -> list[tuple[Any, ...]]:
        """Rows of SQL in the driver's own dialect, on its own cursor (a hot read)."""
        try:
            connection = self.engine.raw_connection()
        except (DBAPIError, self.engine.dialect.loaded_dbapi.Error) as error:
            raise DatabaseUnavailable(str(error)) from error
        driver: Any = connection.driver_connection
        # One statement needs no transaction: on PostgreSQL, autocommit saves the
        # BEGIN, and the ROLLBACK the pool would send when the connection goes back.
        autocommit = self.backend == "postgresql" and not driver.autocommit
        try:
            if autocommit:
                driver.autocommit = True
            try:
                cursor = connection.cursor()
                cursor.execute(sql, params)
                found = cursor.fetchmany(1) if one else cursor.fetchall()
                cursor.close()
            finally:
                if autocommit and not driver.closed:
                    driver.autocommit = False  # as the pool's other users expect it
        except self.engine.dialect.loaded_dbapi.OperationalError as error:
            # Outside SQLAlchemy's own error handling: drop the connection ourselves,
            # and let the API answer 503 as it does for any unreachable database.
            connection.invalidate()
            raise DatabaseUnavailable(str(error)) from error
        finally:
            connection.close()
        return [tuple(row) for row in found]

    def compiled(self, statement: Executable) -> tuple[str, tuple[str, ...]]:
        """The statement as the driver's SQL, and its parameters' order if positional."""
        found = self._compiled_cache.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=self.engine.dialect)  # type: ignore[attr-defined]
            order = tuple(compiled.positiontup or ()) if self.engine.dialect.positional else ()
            found = self._compiled_cache[id(statement)] = (str(compiled), order)
        return found

    def health(self) -> Health:
        """Whether jobtrail can write: "ok", "read-only" or "unreachable"."""
        try:
            return self._sqlite_health() if self.backend == "sqlite" else self._postgres_health()
        except Exception:
            return "unreachable"

    def _postgres_health(self) -> Health:
        with self.engine.connect() as conn:
            read_only = conn.execute(
                text(
                    "SELECT pg_is_in_recovery() "
                    "OR current_setting('default_transaction_read_only') = 'on'"
                )
            ).scalar()
        return "read-only" if read_only else "ok"

    def _sqlite_health(self) -> Health:
        # A read-only file opens, and even BEGIN IMMEDIATE succeeds: only a write
        # tells. This one changes nothing and is rolled back.
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA busy_timeout=200")
            try:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute("UPDATE projection_positions SET position = position")
                cursor.execute("ROLLBACK")
            except self.engine.dialect.loaded_dbapi.OperationalError as error:
                if "readonly" in str(error):
                    return "read-only"
                if "locked" in str(error) or "busy" in str(error):
                    return "ok"  # another writer holds the lock: writes do happen
                raise
            finally:
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        finally:
            connection.close()
        return "ok"

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held while creating tables, so that processes starting together don't race."""
        if self.backend != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                conn.commit()


def _engine(url: DatabaseUrl, pool_size: int, max_overflow: int) -> Engine:
    if url.backend == "sqlite":
        engine = create_engine(
            url.sqlalchemy_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    connect_args: dict[str, Any] = {
        "connect_timeout": 5,
        # Which process's connections these are, in pg_stat_activity.
        "application_name": f"jobtrail read model {os.getpid()}",
    }
    if url.schema:
        connect_args["options"] = f"-csearch_path={url.schema}"
    # The pool keeps every connection it opened: SQLAlchemy would close an overflow
    # connection as soon as it is returned, and under steady load each request past
    # pool_size would then open one again (a new server process on PostgreSQL).
    engine = create_engine(
        url.sqlalchemy_url,
        connect_args=connect_args,
        hide_parameters=True,  # personal data (user ids) never reaches a log or traceback
        pool_size=pool_size + max_overflow,
        max_overflow=0,
    )
    event.listen(
        engine, "checkout", lambda conn, _record, _proxy: _ping_if_ended(engine.dialect, conn)
    )
    return engine


def _ping_if_ended(dialect: Any, dbapi_connection: Any) -> None:
    """A connection the server ended while it sat in the pool (a kill, a restart) is
    pinged before use, and replaced if dead (SQLAlchemy's pool reconnects on a
    DisconnectionError from checkout), so the request does not meet it. Telling
    takes a poll of the socket, no round trip (infrastructure.liveness): a quiet
    connection is not pinged, however long it was idle."""
    if not has_news(dbapi_connection):
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise DisconnectionError(str(error)) from error


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is too late).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not merely unlinked: a forgotten
    # user's key, id and session rows leave no bytes behind in the file (ADR 18).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("jobtrail_autocommit", False):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("jobtrail_immediate") else "BEGIN")

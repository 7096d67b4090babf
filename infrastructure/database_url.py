"""JOBTRAIL_DATABASE_URL, read into what SQLAlchemy and the event store each need,
with a plain answer for every way it is commonly mistyped."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

from infrastructure.settings import SettingsError

LOCK_TIMEOUT_SECONDS = 30
"""How long an append waits for the events table's lock before it fails (a 503):
eventsourcing's recorder is told so (POSTGRES_LOCK_TIMEOUT), and jobtrail_append
(infrastructure/append_function.py) sets it itself."""

Backend = Literal["sqlite", "postgresql"]
SQLITE_BUSY_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class DatabaseUrl:
    shown: str
    """The URL to show an operator: SQLite's path made absolute, no password."""
    backend: Backend
    sqlalchemy_url: str
    eventsourcing_env: dict[str, str]
    schema: str | None

    @property
    def events_table(self) -> str:
        return "stored_events" if self.backend == "sqlite" else "jobtrail_events"

    @property
    def events_channel(self) -> str:
        """Where PostgreSQL says that events were appended (LISTEN/NOTIFY). Channels are
        the database's, not a schema's: the name holds the schema, or installations in
        two schemas of one database would wake each other's followers."""
        return f"{self.schema or 'public'}.{self.events_table}"

    @property
    def libpq_conninfo(self) -> str:
        """The PostgreSQL URL as psycopg takes it (no SQLAlchemy driver name)."""
        return (
            make_url(self.sqlalchemy_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.eventsourcing_env["SQLITE_DBNAME"]) if self.backend == "sqlite" else None


def parse_database_url(raw: str) -> DatabaseUrl:
    try:
        url = make_url(raw)
    except Exception:
        raise SettingsError(
            f"JOBTRAIL_DATABASE_URL {raw!r} is not a database URL: write "
            "sqlite:///jobtrail.db (a file here), sqlite:////var/lib/jobtrail.db (an absolute "
            "path) or postgresql://user:password@host:5432/db."
        ) from None
    driver = url.drivername.split("+")[0]
    if driver == "sqlite":
        path = url.database or ""
        if url.host:
            meant = f"{url.host}/{path}" if path else url.host
            raise SettingsError(
                f"{raw!r} names a host ({url.host}), not a file: a SQLite URL has three "
                f"slashes before a relative path (sqlite:///{meant})."
            )
        if path in ("", ":memory:"):
            raise SettingsError(
                "An in-memory SQLite database cannot be shared by the event store and the "
                "read model: name a file, e.g. sqlite:///jobtrail.db."
            )
        return DatabaseUrl(
            shown=f"sqlite:///{Path(path).resolve()}",
            backend="sqlite",
            sqlalchemy_url=f"sqlite+pysqlite:///{path}",
            eventsourcing_env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(Path(path)),
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_BUSY_TIMEOUT_SECONDS),
            },
            schema=None,
        )
    if driver in ("postgresql", "postgres"):
        query = dict(url.query)
        schema = query.pop("schema", None)
        if isinstance(schema, tuple):
            schema = schema[-1]
        if schema is not None and not (schema.isidentifier() and schema == schema.lower()):
            raise SettingsError(
                f"The schema {schema!r} is not a plain lower-case SQL identifier "
                "(PostgreSQL folds unquoted names to lower case)."
            )
        pg_url = url.set(drivername="postgresql+psycopg", query=query)
        env = {
            # eventsourcing's, with a pool that replaces dead connections at once.
            "PERSISTENCE_MODULE": "infrastructure.liveness:LivelyPostgresFactory",
            "POSTGRES_DBNAME": url.database or "postgres",
            "POSTGRES_HOST": url.host or "localhost",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
        }
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return DatabaseUrl(
            shown=url.render_as_string(hide_password=True),
            backend="postgresql",
            sqlalchemy_url=pg_url.render_as_string(hide_password=False),
            eventsourcing_env=env,
            schema=schema,
        )
    raise SettingsError(
        f"Unsupported database {url.drivername!r}: use sqlite:///PATH or postgresql://..."
    )

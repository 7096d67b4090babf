"""An OpenReplay installation's PostgreSQL, read (never written) for the import."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from application.tenants import SourceProject, SourceTenant
from infrastructure.sql_catalog import references_to

SCHEMA = "public"
SESSIONS = f"{SCHEMA}.sessions"
SESSION_COLUMNS = ("session_id", "project_id", "user_id")
"""What the sessions target reads of public.sessions."""
UNLINKED = {"public.assist_events": ("session_id",)}
"""Tables that hold a session's id with no foreign key, which the catalog cannot
name: OpenReplay EE's assist_events, where its assist-stats service logs each
assist, call and remote control of a session by the session's id, as text."""


@dataclass(frozen=True)
class SessionTable:
    """A table whose foreign key refers to public.sessions, or to another such table
    (``parent``): its ``columns`` hold the parent's ``referred`` columns."""

    table: str
    parent: str
    columns: tuple[str, ...]
    referred: tuple[str, ...]


class NotOpenReplay(Exception):
    """The database cannot be read as an OpenReplay installation's."""


class SqlOpenReplaySource:
    def __init__(self, url: str) -> None:
        try:
            given = make_url(url)
        except Exception:
            raise NotOpenReplay(f"--from takes a postgresql:// URL, not {url!r}.") from None
        # Named as the operator wrote it (password hidden), never as the driver's URL.
        self._shown = given.render_as_string(hide_password=True)
        if given.drivername.split("+")[0] not in ("postgresql", "postgres"):
            raise NotOpenReplay(
                f"--from takes OpenReplay's PostgreSQL (postgresql://…), not {self._shown!r}."
            )
        self._engine = create_engine(
            given.set(drivername="postgresql+psycopg"),
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={"connect_timeout": 5},
        )

    def tenants(self) -> list[SourceTenant]:
        table = self._table("tenants")
        tenant_id, name, api_key = self._columns(table, "tenant_id", "name", "api_key")
        query = select(tenant_id, name, api_key).order_by(tenant_id)
        return [SourceTenant(_number(t), _text(n), _text(k)) for t, n, k in self._rows(query)]

    def live_projects(self) -> list[SourceProject]:
        """Every live row as it is, NULLs included: the import checks them all."""
        table = self._table("projects")
        columns = self._columns(table, "project_id", "name", "project_key")
        with_tenants = "tenant_id" in table.c
        only_tenant: int | None = None
        if with_tenants:
            columns.append(table.c.tenant_id)
        else:
            # OpenReplay's single-tenant edition: its projects are the one tenant's.
            tenants = self.tenants()
            if len(tenants) != 1:
                raise NotOpenReplay("projects have no tenant_id, and there is not one tenant.")
            only_tenant = tenants[0].tenant_id
        [deleted_at] = self._columns(table, "deleted_at")
        query = select(*columns).where(deleted_at.is_(None)).order_by(columns[0])
        return [
            SourceProject(
                _number(row[0]),
                _number(row[3]) if with_tenants else only_tenant,
                _text(row[1]),
                _text(row[2]),
            )
            for row in self._rows(query)
        ]

    def session_tables(self) -> list[SessionTable]:
        """Every table that refers to public.sessions, at any depth and whatever its
        ON DELETE, as the installation's own catalog says (and the UNLINKED tables it
        has, which no foreign key names): each parent before its children."""
        self._columns(self._table("sessions"), *SESSION_COLUMNS)
        found: list[SessionTable] = []
        parents, seen = [SESSIONS], {SESSIONS}
        try:
            with self._engine.connect() as conn:
                while parents:
                    parent = parents.pop(0)
                    schema, _, name = parent.partition(".")
                    for ref in references_to(conn, schema, name):
                        if ref.qualified == parent:
                            continue  # a table referring to itself: targets check names it
                        found.append(SessionTable(ref.qualified, parent, ref.columns, ref.referred))
                        if ref.qualified not in seen:
                            seen.add(ref.qualified)
                            parents.append(ref.qualified)
                found += _unlinked(conn, found)
        except SQLAlchemyError as error:
            raise NotOpenReplay(f"Cannot read {self._shown}: {_reason(error)}") from None
        return found

    def close(self) -> None:
        self._engine.dispose()

    def _columns(self, table: Table, *names: str) -> list[Column[Any]]:
        for name in names:
            if name not in table.c:
                raise NotOpenReplay(
                    f"{self._shown}: table {SCHEMA}.{table.name} has no column {name}: is it "
                    "OpenReplay's database?"
                )
        return [table.c[name] for name in names]

    def _table(self, name: str) -> Table:
        try:
            return Table(name, MetaData(), schema=SCHEMA, autoload_with=self._engine)
        except NoSuchTableError:
            raise NotOpenReplay(
                f"{self._shown} has no table {SCHEMA}.{name}: is it OpenReplay's database?"
            ) from None
        except SQLAlchemyError as error:
            raise NotOpenReplay(f"Cannot read {self._shown}: {_reason(error)}") from None

    def _rows(self, query: Any) -> list[Any]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(query))
        except SQLAlchemyError as error:
            raise NotOpenReplay(f"Cannot read {self._shown}: {_reason(error)}") from None


def _unlinked(conn: Any, found: list[SessionTable]) -> list[SessionTable]:
    """The UNLINKED tables this installation has (with their columns), unless a
    foreign key of theirs onto the sessions was found already."""
    inspector = inspect(conn)
    linked = {table.table for table in found if table.parent == SESSIONS}
    made = []
    for qualified, columns in UNLINKED.items():
        schema, _, name = qualified.partition(".")
        if qualified in linked or not inspector.has_table(name, schema=schema):
            continue
        if set(columns) <= {c["name"] for c in inspector.get_columns(name, schema=schema)}:
            made.append(SessionTable(qualified, SESSIONS, columns, ("session_id",)))
    return made


def _reason(error: SQLAlchemyError) -> str:
    return (str(getattr(error, "orig", error)).strip().splitlines() or [""])[0]


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)

"""An OpenReplay installation's PostgreSQL, read (never written) for the import."""

from typing import Any

from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from application.tenants import SourceProject, SourceTenant

SCHEMA = "public"


class NotOpenReplay(Exception):
    """The database cannot be read as an OpenReplay installation's."""


class SqlOpenReplaySource:
    def __init__(self, url: str) -> None:
        try:
            sqlalchemy_url = make_url(url).set(drivername="postgresql+psycopg")
        except Exception:
            raise NotOpenReplay(f"--from takes a postgresql:// URL, not {url!r}.") from None
        self._engine = create_engine(
            sqlalchemy_url,
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={"connect_timeout": 5},
        )
        self._shown = sqlalchemy_url.render_as_string(hide_password=True)

    def tenants(self) -> list[SourceTenant]:
        table = self._table("tenants")
        query = select(table.c.tenant_id, table.c.name, table.c.api_key).order_by(table.c.tenant_id)
        return [SourceTenant(_number(t), _text(n), _text(k)) for t, n, k in self._rows(query)]

    def live_projects(self) -> list[SourceProject]:
        """Every live row as it is, NULLs included: the import checks them all."""
        table = self._table("projects")
        columns = [table.c.project_id, table.c.name, table.c.project_key]
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
        query = select(*columns).where(table.c.deleted_at.is_(None)).order_by(table.c.project_id)
        return [
            SourceProject(
                _number(row[0]),
                _number(row[3]) if with_tenants else only_tenant,
                _text(row[1]),
                _text(row[2]),
            )
            for row in self._rows(query)
        ]

    def close(self) -> None:
        self._engine.dispose()

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


def _reason(error: SQLAlchemyError) -> str:
    return (str(getattr(error, "orig", error)).strip().splitlines() or [""])[0]


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)

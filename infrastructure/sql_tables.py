"""A SQL target's table: reflected once from its database, and checked with the
one-line errors every SQL-backed target gives (sql, child, values, scrub)."""

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sqlalchemy import MetaData, Table
from sqlalchemy.exc import DBAPIError, NoSuchTableError

from infrastructure.database import Database
from infrastructure.target_config import ConfigError, SqlTargetConfig


class NamedTable(Protocol):
    @property
    def table(self) -> str: ...

    def schema_and_table(self) -> tuple[str | None, str]: ...


def reflected(config: NamedTable, database: Database) -> Table:
    schema, name = config.schema_and_table()
    return Table(name, MetaData(), schema=schema, autoload_with=database.engine)


def checked_table(
    target: str, shown: str, resolve: Callable[[], Table], columns: Iterable[str | None]
) -> Table:
    """The table ``resolve`` reflects, with every named column; else a ConfigError
    naming the target, the table (as configured) and what is missing."""
    try:
        table = resolve()
    except NoSuchTableError:
        raise ConfigError(f"Target {target}: table {shown!r} does not exist.") from None
    except DBAPIError as error:
        reason = (str(error.orig).strip().splitlines() or [""])[0]
        raise ConfigError(f"Target {target}: cannot reach its database: {reason}") from None
    for column in columns:
        if column is not None and column not in table.c:
            raise ConfigError(f"Target {target}: table {shown!r} has no column {column!r}.")
    return table


def key_column(config: SqlTargetConfig, table: Table) -> Any:
    """The column that names a sql target's rows: its id_column, or its primary key."""
    if config.id_column:
        return table.c[config.id_column]
    primary = list(table.primary_key.columns)
    if len(primary) != 1:
        raise ConfigError(f"Target {config.name}: set id_column (no single-column primary key).")
    return primary[0]

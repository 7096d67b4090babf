"""`targets check`: a table whose foreign key refers to a sql target's table, or to
one of its children's, must be a configured child of it.

Otherwise deleting the person's rows goes wrong by its ON DELETE rule: NO ACTION
or RESTRICT refuses the delete (the job fails), SET NULL or SET DEFAULT keeps the
person's rows, detached, and CASCADE removes rows that no receipt counts."""

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError

from infrastructure.database import Database
from infrastructure.sql_catalog import Reference, default_schema, references_to
from infrastructure.sql_children import ChildRows, Parent
from infrastructure.target_config import ConfigError

WHY = {
    "NO ACTION": "it would block the delete",
    "RESTRICT": "it would block the delete",
    "SET NULL": "its rows would stay, detached",
    "SET DEFAULT": "its rows would stay, detached",
    "CASCADE": "its rows would go uncounted",
}


def check_covered(
    target: str, database: Database, root: Parent, children: Sequence[ChildRows]
) -> None:
    """Raises ConfigError, in one line, for the first foreign key onto the target's
    tables that no child covers: the table, its rule, why, and the fix."""
    try:
        with database.reader() as conn:
            default = default_schema(conn)
            sqlite = conn.dialect.name == "sqlite"

            def identity(schema: str | None, name: str) -> tuple[str, str]:
                schema = schema or default
                return (schema.lower(), name.lower()) if sqlite else (schema, name)

            def of(table: Table) -> tuple[str, str]:
                return identity(table.schema, table.name)

            covered = {(of(c.resolved()), of(c.parent.resolved()), *_columns(c)) for c in children}
            seen: set[tuple[str, str]] = set()
            for node in [root, *children]:
                table = node.resolved()
                if of(table) in seen:
                    continue
                seen.add(of(table))
                for ref in references_to(conn, table.schema, table.name):
                    referring = identity(ref.schema, ref.table)
                    if referring == of(table):
                        raise ConfigError(_itself(target, ref))
                    if (referring, of(table), ref.columns, ref.referred) not in covered:
                        raise ConfigError(_uncovered(target, node, table, ref))
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0]
        raise ConfigError(
            f"Target {target}: cannot read its database's catalog: {reason}"
        ) from None


def _uncovered(target: str, node: Parent, table: Table, ref: Reference) -> str:
    referred = ", ".join(ref.referred)
    fix = f'table = "{ref.qualified}", sessions_from = "{node.name}", '
    fix += f"session_column = {_toml(ref.columns)}"
    if list(ref.referred) != _default_key(node):
        fix += f", parent_column = {_toml(ref.referred)}"
    return (
        f"Target {target}: table {ref.qualified} refers to {_shown(table)} ({referred}) "
        f"ON DELETE {ref.rule}, and {WHY.get(ref.rule, 'it is not covered')}: add a sql "
        f"target with {fix} (or run jobtrail openreplay import again, to a new --config-out)."
    )


def _itself(target: str, ref: Reference) -> str:
    return (
        f"Target {target}: table {ref.qualified} refers to itself ({', '.join(ref.columns)}) "
        f"ON DELETE {ref.rule}: deleting a person's rows of it could reach, or be refused "
        "by, other rows of it: jobtrail refuses to take rows of such a table."
    )


def _columns(child: ChildRows) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(child.columns), tuple(child.referred)


def _default_key(node: Parent) -> list[str] | None:
    try:
        return node.key_names()
    except ConfigError:
        return None


def _toml(columns: Sequence[str]) -> str:
    quoted = [f'"{column}"' for column in columns]
    return quoted[0] if len(quoted) == 1 else f"[{', '.join(quoted)}]"


def _shown(table: Table) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name

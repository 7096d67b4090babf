"""`targets check`: a table whose foreign key refers to a sql target's table, or to
one of its children's, must be a configured child of it: of each child of that
table, as each finds other rows of it (a table of two keys to the sessions is
reached through either key, and a child finds the rows of its parent's rows only).

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

            under = {(id(c.parent), of(c.resolved()), *_columns(c)) for c in children}
            anywhere = {(of(c.resolved()), of(c.parent.resolved()), *_columns(c)) for c in children}
            found: dict[tuple[str, str], list[Reference]] = {}
            for node in [root, *children]:
                table = node.resolved()
                if of(table) not in found:
                    found[of(table)] = references_to(conn, table.schema, table.name)
                path = [of(n.resolved()) for n in _path(node)]
                for ref in found[of(table)]:
                    referring = identity(ref.schema, ref.table)
                    if referring == of(table):
                        raise ConfigError(_itself(target, ref))
                    key = (ref.columns, ref.referred)
                    if referring in path:
                        # A cycle (it refers back to a table this node is reached from):
                        # a child of it by this key anywhere, or the chain never ends.
                        covered = (referring, of(table), *key) in anywhere
                    else:
                        covered = (id(node), referring, *key) in under
                    if not covered:
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
    where = ""
    if isinstance(node, ChildRows):
        steps = [_step(n) for n in _path(node) if isinstance(n, ChildRows)]
        where = f" where it refers to the rows reached through {', then '.join(steps)}"
    return (
        f"Target {target}: table {ref.qualified} refers to {_shown(table)} ({referred}) "
        f"ON DELETE {ref.rule}, and {WHY.get(ref.rule, 'it is not covered')}{where}: add a "
        f"sql target with {fix} (or run jobtrail openreplay import again, to a new "
        "--config-out)."
    )


def _path(node: Parent) -> list[Parent]:
    """The nodes a child's rows are reached through, from the target's table to its own."""
    path = [node]
    while isinstance(path[0], ChildRows):
        path.insert(0, path[0].parent)
    return path


def _step(child: ChildRows) -> str:
    columns = child.columns[0] if len(child.columns) == 1 else f"({', '.join(child.columns)})"
    return f"{child.name} ({_shown(child.resolved())}.{columns})"


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

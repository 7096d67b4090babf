"""Rows of two people in a child table: rows that refer to the person's session and,
through another child target of the same table (a second key to the sessions, or a
key to a row of another session), to a row that is not of the person's sessions.

Such a row is the other person's data too: deleting it with the person's would
destroy theirs, leaving it attached would keep the person's. So, in the batch's
transaction and before the child's DELETE (which never takes it), the row is
detached from the person's session (the child's columns set to NULL, as ON DELETE
SET NULL would) and counted apart, as ``{child} (detached)``, where those columns
may be NULL and no other child of the table reads them. Otherwise the batch fails,
naming the table, and nothing of it is deleted: the operator decides (makes the
columns nullable, or settles the row by hand). Rows that refer to a shared row
(its own children) stay with it.

Through another child, a row refers to the person alone when that child's columns
are NULL or name a row of the person's sessions (any of those still there, not only
the batch's); a row of anybody else's session (an anonymous one, another project's),
a shared row, or none, makes it shared.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, not_, select, update

from infrastructure.database import Database
from infrastructure.sql_children import ChildRows


@dataclass(frozen=True)
class SharedRows:
    """A child whose table another child also reads (``child.others``)."""

    child: ChildRows

    @property
    def detached(self) -> str:
        """The receipt's name for the rows detached from the person's sessions."""
        return f"{self.child.name} (detached)"

    @property
    def detachable(self) -> bool:
        """Whether the child's columns may be NULL, and setting them so changes none of
        the references the other children read (bob's, in a composite key)."""
        table = self.child.resolved()
        read_by_others = {name for other in self.child.others for name in other.columns}
        return all(
            table.c[name].nullable and name not in read_by_others for name in self.child.columns
        )

    def detach(self, batch: Any) -> Any:
        """Sets the child's columns to NULL in its shared rows of the batch's sessions."""
        table = self.child.resolved()
        return (
            update(table)
            .where(self.child.where(batch), self.child.someone_elses())
            .values(dict.fromkeys(self.child.columns))
        )

    def count(self, batch: Any) -> Any:
        """How many of its rows of the batch's sessions are shared."""
        table = self.child.resolved()
        shared = self.child.someone_elses()
        return select(func.count()).select_from(table).where(self.child.where(batch), shared)

    def delete(self, batch: Any) -> Any:
        """Its rows of the batch's sessions that are the person's alone."""
        table = self.child.resolved()
        return delete(table).where(self.child.where(batch), not_(self.child.someone_elses()))

    def refusal(self) -> str:
        table = self.child.resolved()
        shown = f"{table.schema}.{table.name}" if table.schema else table.name
        mine = ", ".join(self.child.columns)
        theirs = "; ".join(", ".join(other.columns) for other in self.child.others)
        return (
            f"Target {self.child.name}: table {shown} has a row of the person's session "
            f"({mine}) that also refers to another person's session ({theirs}), and {mine} "
            "cannot be NULL: deleting the row would destroy the other person's data, "
            f"keeping it would keep the person's. Make {mine} nullable (the row is then "
            "detached from the person's session), or settle the row by hand; nothing of "
            "this batch was deleted."
        )


def find_shared(children: Sequence[ChildRows], database: Database) -> dict[str, SharedRows]:
    """Tells each child the other children of its table; those that have some, by name."""
    default = database.engine.dialect.default_schema_name
    fold = database.backend == "sqlite"  # whose table names ignore case

    def table_of(child: ChildRows) -> tuple[str, str]:
        table = child.resolved()
        schema, name = table.schema or default or "", table.name
        return (schema.lower(), name.lower()) if fold else (schema, name)

    found: dict[str, SharedRows] = {}
    for child in children:
        # A child of the same columns is the same reference, found through another
        # parent (a link's reactions, by either of the link's keys): not another.
        child.others = tuple(
            other
            for other in children
            if table_of(other) == table_of(child) and other.columns != child.columns
        )
        if child.others:
            found[child.name] = SharedRows(child)
    return found

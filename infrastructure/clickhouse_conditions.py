"""How a ClickHouse target's statement names rows (ADR 24): the project, then any of
a few conjunctions of ``column IN (values)``.

The values (user ids, anonymous ids, devices, session ids) never appear in a
statement's text: ClickHouse keeps the text of each mutation, parameters written
in, in ``system.mutations`` and in a file beside the table's parts (the last
``finished_mutations_to_keep`` of the table, 100 by default), long after the rows
are gone. They go into a scratch table of the statement's own (``ENGINE =
Memory``, in RAM only, dropped after it); the statement names the scratch table.
"""

import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from typing import Any, Protocol

from application.ports import TransientTargetError
from infrastructure.clickhouse_server import ClickHouseTargetError


class Nobody:
    """A column that holds no one: NULL or empty (as some SDKs send "no user")."""


NOBODY = Nobody()
Membership = tuple[str, Collection[Any] | Nobody]
Condition = Sequence[Sequence[Membership]]
"""Any of these (OR), each all of its memberships (AND): ``[[("user_id", ["a"])]]``;
``[[("user_id", NOBODY), ("user_uuid", devices)]]``."""

SCRATCH_PREFIX = "_jobtrail_"


class ScratchHome(Protocol):
    """The table whose database holds a statement's scratch tables."""

    database: str

    def command(self, sql: str) -> None: ...

    def insert(self, name: str, values: Collection[Any]) -> None: ...


class Scratch:
    """The scratch tables of one statement, dropped when it is done."""

    def __init__(self, home: ScratchHome) -> None:
        self.marker = f"{SCRATCH_PREFIX}{uuid.uuid4().hex}_"
        self.keep = False
        self._home = home
        self._names: list[str] = []

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            return
        database = quoted(self._home.database)
        for name in self._names:
            # Never raised: it would hide the statement's own outcome (a count, or a
            # BatchInterrupted's). A table left is dropped by a later check's sweep.
            with suppress(TransientTargetError, ClickHouseTargetError):
                # SYNC: an Atomic database would keep a dropped table for 8 minutes.
                self._home.command(f"DROP TABLE IF EXISTS {database}.{quoted(name)} SYNC")

    def set_of(self, values: Collection[Any], column_type: str) -> str:
        """A subquery of these values, typed like the column they are matched with."""
        name = f"{self.marker}{len(self._names)}"
        self._home.command(
            f"CREATE TABLE {quoted(self._home.database)}.{quoted(name)} "
            f"(v {column_type}) ENGINE = Memory"
        )
        self._names.append(name)
        text = column_type == "String" or column_type.startswith("FixedString")
        rows = [str(v) for v in values] if text else list(values)
        if width := _fixed_width(column_type):
            # A value longer than a FixedString(N) is in none of its rows (and its
            # insert would fail): left out, not cut to N bytes, which could be another's.
            rows = [v for v in rows if len(v.encode()) <= width]
        if rows:
            self._home.insert(name, rows)
        return f"(SELECT v FROM {quoted(self._home.database)}.{quoted(name)})"  # noqa: S608 - names quoted

    def where(
        self, types: Mapping[str, str], project_column: str, condition: Condition
    ) -> str | None:
        """The condition in the project (its id the parameter ``project``); None if
        no alternative can match (one of its memberships has no values)."""
        alternatives = [
            " AND ".join(self._member(column, values, types[column]) for column, values in members)
            for members in condition
            if all(values for _, values in members)
        ]
        if not alternatives:
            return None
        return f"{quoted(project_column)} = {{project:Int64}} AND (({') OR ('.join(alternatives)}))"

    def _member(self, column: str, values: Collection[Any] | Nobody, column_type: str) -> str:
        if isinstance(values, Nobody):
            return f"coalesce(empty({quoted(column)}), 1)"  # NULL: coalesce's 1
        return f"{quoted(column)} IN {self.set_of(values, column_type)}"


def _fixed_width(column_type: str) -> int | None:
    """N of a ``FixedString(N)``; None for any other type."""
    match = re.fullmatch(r"FixedString\((\d+)\)", column_type)
    return int(match.group(1)) if match else None


def quoted(identifier: str) -> str:
    """A ClickHouse identifier, whatever it holds (OpenReplay's ``$user_id``)."""
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"

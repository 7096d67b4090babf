"""One ClickHouse table as the ClickHouse targets count and delete in it: over HTTP
with the official client (clickhouse-connect), or in process through its
``chdb://`` DSN (ClickHouse's own engine; the tests use it). ADR 24.

A statement matches the project, then a condition whose values are in scratch
tables, never in its text (infrastructure.clickhouse_conditions).

A deletion is ``ALTER TABLE … DELETE`` waited for (``mutations_sync = 2``): the
parts holding the rows are rewritten without them before it returns. It is counted
by the same condition just before. If the wait fails, the mutation is killed (a
mutation left to run would read a dropped scratch table and block the table's
later mutations), and what it had already deleted is counted all the same.
"""

import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from application.ports import BatchInterrupted, TransientTargetError
from infrastructure.clickhouse_conditions import SCRATCH_PREFIX, Condition, Scratch, quoted
from infrastructure.clickhouse_server import (
    ClickHouseServer,
    ClickHouseTargetError,
    failure_of,
    reported_as,
)
from infrastructure.target_config import ConfigError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

_WRAPPERS = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")
_COMPOSITE = ("Array(", "Map(", "Tuple(", "Nested(", "JSON", "Object(", "Variant(", "Dynamic")
"""Column types holding several values: never an id column."""
_VERSIONED = frozenset(
    {"ReplacingMergeTree", "CollapsingMergeTree", "VersionedCollapsingMergeTree"}
)
"""Engines whose rows are versions of one thing until a merge: read as of now with
FINAL (a plain MergeTree refuses FINAL)."""


class ClickHouseTable:
    def __init__(self, server: ClickHouseServer, target: str, table: str) -> None:
        self.target = target
        self.table = table
        self.database, _, self._name = table.partition(".")
        self._server = server
        self._full = f"{quoted(self.database)}.{quoted(self._name)}"
        self._types: dict[str, str] = {}
        self._engine: str | None = None

    @property
    def label(self) -> str:
        return f"{self.target}: table {self.table}"

    def check(self, columns: Sequence[str]) -> None:
        """Raises ConfigError, one line naming the target, unless the server answers,
        the table is a MergeTree on one server, its columns exist and scratch tables
        can be made beside it (leftovers of interrupted runs are dropped)."""
        who = f"Target {self.target}"
        try:
            engine = self._select(
                "SELECT engine FROM system.tables WHERE database = {d:String} "
                "AND name = {t:String}",
                {"d": self.database, "t": self._name},
            )
            if not engine:
                raise ConfigError(f"{who}: table {self.table!r} does not exist.")
            types = self.types()
            self._sweep()
            with Scratch(self) as scratch:
                scratch.set_of(["check"], "String")
        except (TransientTargetError, ClickHouseTargetError) as error:
            # The target's name once: the label already names the table.
            raise ConfigError(f"{who}: {str(error).removeprefix(self.target + ': ')}") from None
        kind = str(engine[0])
        if not kind.endswith("MergeTree") or kind.startswith(("Replicated", "Shared")):
            # A replica would run the mutation without this server's scratch table.
            raise ConfigError(
                f"{who}: table {self.table!r} is {kind}: only a MergeTree-family table "
                "on one server can be deleted from."
            )
        for column in columns:
            if column not in types:
                raise ConfigError(f"{who}: table {self.table!r} has no column {column!r}.")
            if types[column].startswith(_COMPOSITE):
                # A row holding several people's ids is no one's alone, and IN would
                # find none of them (a check saying 0 with her id inside).
                raise ConfigError(
                    f"{who}: column {column!r} of table {self.table!r} is "
                    f"{types[column]}: an id column must hold one value."
                )

    def types(self) -> dict[str, str]:
        """Each column's type, without Nullable or LowCardinality (a scratch column's)."""
        if not self._types:
            with reported_as(self.label, self._server.shown):
                rows = (
                    self._client()
                    .query(
                        "SELECT name, type FROM system.columns WHERE database = {d:String} "
                        "AND table = {t:String}",
                        parameters={"d": self.database, "t": self._name},
                    )
                    .result_rows
                )
            self._types = {str(name): _base_type(str(kind)) for name, kind in rows}
        return self._types

    def count(self, project_column: str, project_id: int, condition: Condition) -> int:
        with Scratch(self) as scratch:
            where = self._where(scratch, project_column, condition)
            return 0 if where is None else self._count(where, project_id)

    def distinct(
        self,
        column: str,
        project_column: str,
        project_id: int,
        condition: Condition,
        limit: int | None = None,
        unless_newest_names: tuple[str, str] | None = None,
    ) -> list[Any]:
        """``unless_newest_names``: (an owner column, a user id): not the ``column``
        values whose newest version (FINAL, where the table keeps versions) names
        another owner; that thing is theirs now."""
        with Scratch(self) as scratch:
            where = self._where(scratch, project_column, condition)
            if where is None:
                return []
            if unless_newest_names is not None and self.keeps_versions():
                owner, user_id = unless_newest_names
                user = scratch.set_of([user_id], self.types()[owner])
                c, o = quoted(column), quoted(owner)
                # Only the candidates are read as of now: FINAL over a project's
                # whole table at every batch would cost as much as the table.
                candidates = f"SELECT {c} FROM {self._full} WHERE {where}"  # noqa: S608 - names quoted, values in scratch tables
                where += (
                    f" AND {c} NOT IN (SELECT {c} FROM {self._full} FINAL "  # noqa: S608 - names quoted, values in scratch tables
                    f"WHERE {quoted(project_column)} = {{project:Int64}} AND {c} IN ({candidates}) "
                    f"AND notEmpty(ifNull({o}, '')) AND {o} NOT IN {user})"
                )
            # NULL is no value: counted in a LIMIT, it would stand for a real one.
            where += f" AND isNotNull({quoted(column)})"
            bound = "" if limit is None else f" LIMIT {int(limit)}"
            return self._select(
                f"SELECT DISTINCT {quoted(column)} FROM {self._full} WHERE {where}{bound}",  # noqa: S608 - names quoted, values in scratch tables
                {"project": project_id},
            )

    def keeps_versions(self) -> bool:
        """Whether a row may have older versions waiting for a merge (a versioned engine)."""
        return self.engine() in _VERSIONED

    def engine(self) -> str:
        if self._engine is None:
            found = self._select(
                "SELECT engine FROM system.tables WHERE database = {d:String} "
                "AND name = {t:String}",
                {"d": self.database, "t": self._name},
            )
            self._engine = str(found[0]) if found else ""
        return self._engine

    def exclusive(
        self, value: str, owner: str, project_column: str, project_id: int, user_id: str
    ) -> list[str]:
        """The ``value`` of the user's rows that no row of another ``owner`` in the
        project carries (an empty or missing owner is nobody's)."""
        with Scratch(self) as scratch:
            user = scratch.set_of([user_id], self.types()[owner])
            v, o, p = quoted(value), quoted(owner), quoted(project_column)
            found = self._select(
                f"SELECT DISTINCT {v} FROM {self._full} WHERE {p} = {{project:Int64}} "  # noqa: S608 - names quoted, values in scratch tables
                f"AND {o} IN {user} AND notEmpty(ifNull({v}, '')) AND {v} NOT IN ("
                f"SELECT {v} FROM {self._full} WHERE {p} = {{project:Int64}} "
                f"AND notEmpty(ifNull({o}, '')) AND {o} NOT IN {user} AND isNotNull({v}))",
                {"project": project_id},
            )
        return [str(one) for one in found]

    def delete(self, project_column: str, project_id: int, condition: Condition) -> int:
        """Deletes the matching rows, waiting until no part holds them; their count."""
        with Scratch(self) as scratch:
            where = self._where(scratch, project_column, condition)
            if where is None:
                return 0
            counted = self._count(where, project_id)
            if not counted:
                return 0
            try:
                self._client().command(
                    f"ALTER TABLE {self._full} DELETE WHERE {where}",
                    parameters={"project": project_id},
                    settings={"mutations_sync": 2},
                )
            except Exception as error:
                failure = failure_of(self.label, self._server.shown, error)
                if failure is None:
                    raise
                gone = self._stop(scratch, where, project_id, counted)
                if gone:
                    raise BatchInterrupted({self.target: gone}, failure) from None
                raise failure from None
            return counted

    def _stop(self, scratch: Scratch, where: str, project_id: int, counted: int) -> int:
        """Kills this statement's mutation; how many rows it had deleted (0 if unknown)."""
        try:
            self._client().command(
                "KILL MUTATION WHERE database = {d:String} AND table = {t:String} "
                "AND position(command, {m:String}) > 0",
                parameters={"d": self.database, "t": self._name, "m": scratch.marker},
            )
            return max(counted - self._count(where, project_id), 0)
        except Exception:
            # Unreachable now: the mutation may still run, so its scratch table stays
            # (in RAM only) until a later check finds it idle and drops it.
            scratch.keep = True
            return 0

    def _where(self, scratch: Scratch, project_column: str, condition: Condition) -> str | None:
        return scratch.where(self.types(), project_column, condition)

    def _count(self, where: str, project_id: int) -> int:
        found = self._select(
            f"SELECT count() FROM {self._full} WHERE {where}",  # noqa: S608 - names quoted, values in scratch tables
            {"project": project_id},
        )
        return int(found[0])

    def _select(self, sql: str, parameters: dict[str, Any]) -> list[Any]:
        """The first column of each row; a FixedString as text without its padding
        NULs (as bytes, its values would be matched again as ``"b'…'"``)."""
        with reported_as(self.label, self._server.shown):
            rows = (
                self._client()
                .query(sql, parameters=parameters, query_formats={"FixedString": "string"})
                .result_rows
            )
        return [row[0] for row in rows]

    def _sweep(self) -> None:
        """Drops scratch tables an interrupted run left, once no mutation uses them."""
        old = self._select(
            "SELECT name FROM system.tables WHERE database = {d:String} "
            "AND startsWith(name, {p:String}) "
            "AND metadata_modification_time < now() - INTERVAL 1 HOUR",
            {"d": self.database, "p": SCRATCH_PREFIX},
        )
        if not old:
            return
        running = " ".join(
            self._select("SELECT command FROM system.mutations WHERE NOT is_done", {})
        )
        for name in old:
            if str(name).rstrip("0123456789") not in running:  # its statement's marker
                self.command(f"DROP TABLE IF EXISTS {quoted(self.database)}.{quoted(name)} SYNC")

    def command(self, sql: str) -> None:
        with reported_as(self.label, self._server.shown):
            self._client().command(sql)

    def insert(self, name: str, values: Collection[Any]) -> None:
        with reported_as(self.label, self._server.shown):
            rows = [[value] for value in values]
            self._client().insert(name, rows, column_names=["v"], database=self.database)

    def _client(self) -> "Client":
        with reported_as(self.label, self._server.shown):
            return self._server.client()


def _base_type(kind: str) -> str:
    while match := _WRAPPERS.match(kind):
        kind = match.group(1)
    return kind

"""A sql target's child tables: rows that refer to the batch's sessions, directly or
through other children (a chain, at any depth), whatever their foreign key's
ON DELETE. Each is deleted by a statement of its own, deepest first, in the
parent's transaction: its rowcount is that table's count on the receipt. A row that
also refers to someone else's session is not the person's alone, nor are the rows
that refer to it (infrastructure.sql_shared_rows)."""

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import (
    String,
    Table,
    and_,
    cast,
    delete,
    false,
    func,
    inspect,
    not_,
    or_,
    select,
    tuple_,
)

from infrastructure.database import Database
from infrastructure.sql_tables import checked_table, reflected
from infrastructure.target_config import ConfigError, SqlTargetConfig, column_names


class Parent(Protocol):
    """The rows a child refers to: the target's sessions, or another child's."""

    name: str

    def resolved(self) -> Table: ...

    def key_names(self) -> list[str]:
        """The columns a child refers to unless it names its parent_column."""
        ...

    def values(self, names: list[str], sessions: Any) -> Any:
        """These columns of its rows of ``sessions`` (the sessions' keys: a list
        parameter or a query), as the right side of an IN."""
        ...

    def persons(self) -> Any:
        """The keys of every session of the person still there (a query with the
        owner's parameters, project_id and user_id)."""
        ...


class ChildRows:
    def __init__(self, config: SqlTargetConfig, database: Database, parent: Parent) -> None:
        self.name = config.name
        self.parent = parent
        self.columns = column_names(config.session_column)
        self._referred = column_names(config.parent_column) if config.parent_column else None
        self._config = config
        self._database = database
        self._table: Table | None = None
        self.others: tuple[ChildRows, ...] = ()
        """The other children of its table, once found (sql_shared_rows.find_shared)."""

    @property
    def referred(self) -> list[str]:
        """The parent's columns that ``columns`` hold."""
        return self._referred or self.parent.key_names()

    def resolved(self) -> Table:
        if self._table is None:
            self._table = reflected(self._config, self._database)
        return self._table

    def key_names(self) -> list[str]:
        if self._config.id_column:
            return [self._config.id_column]
        primary = [column.name for column in self.resolved().primary_key.columns]
        if len(primary) != 1:
            raise ConfigError(
                f"Target {self.name}: its children must name their parent_column "
                f"(table {self._config.table!r} has no single-column primary key)."
            )
        return primary

    def values(self, names: list[str], sessions: Any) -> Any:
        # A row also of someone else's session stays: so do the rows that refer to it.
        table = self.resolved()
        mine = and_(self.where(sessions), not_(self.someone_elses()))
        return select(*(table.c[name] for name in names)).where(mine)

    def persons(self) -> Any:
        return self.parent.persons()

    def someone_elses(self, table: Table | None = None) -> Any:
        """Its rows that refer, through another child of its table, to a row that is
        not of the person's sessions (anybody else's, or none). Never NULL: an IN that
        SQL cannot decide (a NULL among the keys) is taken as not the person's."""
        table = self.resolved() if table is None else table
        return or_(
            false(),
            *(
                and_(
                    *(table.c[name].is_not(None) for name in other.columns),
                    not_(func.coalesce(other.where(self.persons(), table), false())),
                )
                for other in self.others
            ),
        )

    def where(self, sessions: Any, table: Table | None = None) -> Any:
        """Its rows that refer to the parent's rows of ``sessions`` (as rows of
        ``table``: its table, as another child of it reflected it)."""
        table = self.resolved() if table is None else table
        mine = [table.c[name] for name in self.columns]
        left = mine[0] if len(mine) == 1 else tuple_(*mine)
        return left.in_(self._as_held(mine, self.parent.values(self.referred, sessions)))

    def _as_held(self, mine: list[Any], values: Any) -> Any:
        """The parent's ``values`` as its columns hold them. A column that keeps a
        number as text (OpenReplay EE's assist_events, by session id) is compared
        with the number written as text: never the text read as a number, which a
        stray value would make fail, nor text against a number, which PostgreSQL
        refuses."""
        # Columns and referred columns of another number are check()'s to refuse.
        theirs = [self.parent.resolved().c[name] for name in self.referred]
        if all(_text(m.type) == _text(t.type) for m, t in zip(mine, theirs, strict=False)):
            return values
        keys = theirs[0] if len(theirs) == 1 else tuple_(*theirs)
        held = [
            t if _text(m.type) == _text(t.type) else cast(t, m.type)
            for m, t in zip(mine, theirs, strict=False)
        ]
        return select(*held).where(keys.in_(values))

    def delete(self, sessions: Any) -> Any:
        return delete(self.resolved()).where(self.where(sessions))

    def count(self, sessions: Any) -> Any:
        return select(func.count()).select_from(self.resolved()).where(self.where(sessions))

    def check(self) -> None:
        checked_table(self.name, self._config.table, self.resolved, self.columns)
        parent = self.parent.resolved()
        referred = self.referred
        if len(referred) != len(self.columns):
            raise ConfigError(
                f"Target {self.name}: session_column and the parent's columns it refers to "
                f"({', '.join(referred)}) differ in number: name parent_column."
            )
        for column in referred:
            if column not in parent.c:
                raise ConfigError(
                    f"Target {self.name}: its parent {self.parent.name}'s table has no "
                    f"column {column!r} (parent_column)."
                )
        if not unique(parent, referred, self._database):
            # Rows are found by the parent's values alone: a value another person's
            # row also has would take that person's rows too.
            raise ConfigError(
                f"Target {self.name}: {', '.join(referred)} of {self.parent.name}'s table "
                "must be unique (its primary key, or a unique index) to name its rows."
            )

    def describe(self) -> str:
        by = ", ".join(self.columns)
        return f"{self.name}: rows of table {self._config.table} by {by} (of {self.parent.name})"


def children_of(
    root: Parent, configs: Sequence[SqlTargetConfig], database: Database
) -> list[ChildRows]:
    """The children of ``root`` at any depth, each before its parent (deepest first),
    in the configuration's order otherwise."""
    ordered: list[ChildRows] = []

    def visit(parent: Parent) -> None:
        for config in configs:
            if config.sessions_from == parent.name:
                child = ChildRows(config, database, parent)
                visit(child)
                ordered.append(child)

    visit(root)
    return ordered


def _text(kind: Any) -> bool:
    return isinstance(kind, String)


def unique(table: Table, names: list[str], database: Database) -> bool:
    """Whether these columns together are the table's primary key or a unique index."""
    wanted = sorted(names)
    if sorted(column.name for column in table.primary_key.columns) == wanted:
        return True
    inspector = inspect(database.engine)
    indexes = inspector.get_indexes(table.name, schema=table.schema)
    constraints = inspector.get_unique_constraints(table.name, schema=table.schema)
    whole = [i for i in indexes if i["unique"] and not _partial(i)]
    return any(sorted(map(str, i["column_names"])) == wanted for i in whole) or any(
        sorted(c["column_names"]) == wanted for c in constraints
    )


def _partial(index: Any) -> bool:
    """A unique index WHERE some condition: unique among those rows only."""
    options = index.get("dialect_options", {})
    return bool(options.get("postgresql_where") or options.get("sqlite_where"))

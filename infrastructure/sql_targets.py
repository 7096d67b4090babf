"""Rows of one user in one SQL table, and the files named by those rows' keys.

Every statement filters on the project and the user, the DELETE itself included:
the key chooses a batch, never whose rows go, so a key that is not unique (a
session id reused across projects) cannot take another user's rows with it.
"""

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import (
    MetaData,
    Table,
    bindparam,
    delete,
    func,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError, NoSuchTableError
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from application.ports import BatchInterrupted
from infrastructure.database import Database
from infrastructure.sql_errors import reported_as
from infrastructure.target_config import ConfigError, SqlTargetConfig


class SessionFiles(Protocol):
    """Files or objects named by a session's key (a files or s3 target's pattern)."""

    name: str

    def check(self) -> None: ...

    def describe(self) -> str: ...

    def remove_sessions(self, project_id: int, user_id: str, session_ids: list[Any]) -> int: ...

    def count(self, project_id: int, user_id: str, session_id: object = "") -> int: ...


class SqlTarget:
    def __init__(
        self,
        config: SqlTargetConfig,
        database: Database,
        session_files: Sequence["SessionFiles"] = (),
        child_rows: Sequence["SessionRows"] = (),
    ) -> None:
        self._name = config.name
        self._child_rows = child_rows
        self._database = database
        self._config = config
        self._session_files = session_files
        self._table: Table | None = None
        self._statements: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def _label(self) -> str:
        return f"{self._name}: table {self._config.table}"

    def check(self) -> None:
        """Raises ConfigError naming the target unless its table, columns and
        directories are there."""
        try:
            table = self._resolved_table()
        except NoSuchTableError:
            raise ConfigError(
                f"Target {self._name}: table {self._config.table!r} does not exist."
            ) from None
        except DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0]
            raise ConfigError(f"Target {self._name}: cannot reach its database: {reason}") from None
        columns = [self._config.user_id_column, self._config.project_id_column]
        columns += [self._config.id_column] if self._config.id_column else []
        for column in columns:
            if column not in table.c:
                raise ConfigError(
                    f"Target {self._name}: table {self._config.table!r} has no column {column!r}."
                )
        key = self._key(table)
        if self._child_rows and not _unique(table, key, self._database):
            # Children are found by the key alone: a key shared with another user's
            # row would take that user's child rows too.
            raise ConfigError(
                f"Target {self._name}: child tables need {key.name!r} to be unique "
                "(its primary key, or a unique index)."
            )
        for files in self._session_files:
            files.check()
        for child in self._child_rows:
            child.check()

    def describe(self) -> list[str]:
        where = "jobtrail's database" if self._config.url is None else "its own database"
        lines = [f"{self._name}: rows of table {self._config.table} in {where}"]
        lines += [f"{child.describe()} (named by {self._name})" for child in self._child_rows]
        return lines + [
            f"{files.describe()} (named by {self._name})" for files in self._session_files
        ]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        owner = {"project_id": project_id, "user_id": user_id}
        counts = {self._name: 0, **{files.name: 0 for files in self._session_files}}
        counts.update({child.name: 0 for child in self._child_rows})
        try:
            # Durable, like the log: a BatchDeleted event must never outlive its deletion.
            with reported_as(self._label), self._database.writer() as conn:
                if self._child_rows:
                    # Child rows first, in the same transaction: a foreign key without
                    # a cascade would refuse the parent's rows while they exist.
                    keys = list(
                        conn.execute(self._statement("batch"), {**owner, "limit": limit}).scalars()
                    )
                    for child in self._child_rows:
                        counts[child.name] = child.delete_on(conn, keys)
                    result = conn.execute(self._statement("delete_keys"), {**owner, "keys": keys})
                else:
                    result = conn.execute(self._statement("delete"), {**owner, "limit": limit})
                if not self._session_files and not self._child_rows:
                    counts[self._name] = result.rowcount
                    return counts
                deleted = sorted(result.scalars())  # files go in a repeatable order
                # The files go before the rows are committed: if removing one fails, the
                # rows stay, and the next attempt can still find the files they name.
                for files in self._session_files:
                    counts[files.name] += files.remove_sessions(project_id, user_id, deleted)
        except Exception as error:
            if isinstance(error, BatchInterrupted):  # some files or objects went before
                for name, count in error.deleted.items():
                    counts[name] = counts.get(name, 0) + count
                error = error.cause
            # The rows came back (child rows too: one transaction), but the files and
            # objects removed before the failure are gone: the receipt counts them.
            gone = {files.name: counts[files.name] for files in self._session_files}
            if any(gone.values()):
                came_back = dict.fromkeys([self._name, *(c.name for c in self._child_rows)], 0)
                raise BatchInterrupted({**came_back, **gone}, error) from error
            raise
        counts[self._name] = len(deleted)
        return counts

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        owner = {"project_id": project_id, "user_id": user_id}
        with reported_as(self._label), self._database.reader() as conn:
            rows = conn.execute(self._statement("count"), owner).scalar_one()
            keys = list(conn.execute(self._statement("keys"), owner).scalars()) if rows else []
        left = {self._name: int(rows)}
        for child in self._child_rows:
            with reported_as(f"{self._label} (child {child.name})"):
                left[child.name] = child.count(self._database, keys)
        for files in self._session_files:
            left[files.name] = sum(files.count(project_id, user_id, key) for key in keys)
        return left

    def _statement(self, kind: str) -> Any:
        """The target's statements, built once with the owner's filter in each."""
        if not self._statements:
            table = self._resolved_table()
            key = self._key(table)
            project = table.c[self._config.project_id_column]
            user = table.c[self._config.user_id_column]
            owned = (project == bindparam("project_id")) & (user == bindparam("user_id"))
            postgres = self._database.backend == "postgresql"
            # A batch is chosen by the rows' own identity (whatever the key), and the
            # DELETE checks the owner again, so a key shared with other users' rows
            # (or a row changed meanwhile) cannot take anyone else's data.
            row_id: Any = literal_column("ctid" if postgres else "rowid")
            batch = select(row_id).where(owned).limit(bindparam("limit")).scalar_subquery()
            # SQLite would find the batch's rows through the owner's index, reading
            # every row of the user for every batch: its unary + keeps the check a
            # filter, and rows are found by rowid. (PostgreSQL finds them by ctid.)
            recheck = (
                owned
                if postgres
                else (_unindexed(project) == bindparam("project_id"))
                & (_unindexed(user) == bindparam("user_id"))
            )
            deleting = delete(table).where(row_id.in_(batch) & recheck)
            keyed = key.in_(bindparam("keys", expanding=True))
            self._statements = {
                "delete": deleting.returning(key) if self._session_files else deleting,
                "batch": select(key).where(owned).limit(bindparam("limit")).with_for_update(),
                "delete_keys": delete(table).where(keyed & owned).returning(key),
                "count": select(func.count()).select_from(table).where(owned),
                "keys": select(key).where(owned),
            }
        return self._statements[kind]

    def _resolved_table(self) -> Table:
        if self._table is None:
            self._table = _reflected(self._config, self._database)
        return self._table

    def _key(self, table: Table) -> Any:
        if self._config.id_column:
            return table.c[self._config.id_column]
        primary = list(table.primary_key.columns)
        if len(primary) != 1:
            raise ConfigError(f"Target {self._name}: set id_column (no single-column primary key).")
        return primary[0]


def _reflected(config: SqlTargetConfig, database: Database) -> Table:
    schema, name = config.schema_and_table()
    return Table(name, MetaData(), schema=schema, autoload_with=database.engine)


def _unique(table: Table, key: Any, database: Database) -> bool:
    if [column.name for column in table.primary_key.columns] == [key.name]:
        return True
    inspector = inspect(database.engine)
    indexes = inspector.get_indexes(table.name, schema=table.schema)
    constraints = inspector.get_unique_constraints(table.name, schema=table.schema)
    return any(i["unique"] and i["column_names"] == [key.name] for i in indexes) or any(
        c["column_names"] == [key.name] for c in constraints
    )


class SessionRows:
    """Rows of a child table named by the keys of its parent's rows (a table without
    a cascade from the parent): deleted in the parent's transaction, before it."""

    def __init__(self, config: SqlTargetConfig, database: Database) -> None:
        self.name = config.name
        self._config = config
        self._database = database
        self._table: Table | None = None

    def check(self) -> None:
        try:
            table = self._resolved()
        except NoSuchTableError:
            raise ConfigError(
                f"Target {self.name}: table {self._config.table!r} does not exist."
            ) from None
        if self._config.session_column not in table.c:
            raise ConfigError(
                f"Target {self.name}: table {self._config.table!r} has no column "
                f"{self._config.session_column!r}."
            )

    def describe(self) -> str:
        return f"{self.name}: rows of table {self._config.table} by {self._config.session_column}"

    def delete_on(self, conn: Any, keys: list[Any]) -> int:
        if not keys:
            return 0
        table = self._resolved()
        column = table.c[self._config.session_column]
        return int(conn.execute(delete(table).where(column.in_(keys))).rowcount)

    def count(self, database: Database, keys: list[Any]) -> int:
        if not keys:
            return 0
        table = self._resolved()
        column = table.c[self._config.session_column]
        with database.reader() as conn:
            query = select(func.count()).select_from(table).where(column.in_(keys))
            return int(conn.execute(query).scalar_one())

    def _resolved(self) -> Table:
        if self._table is None:
            self._table = _reflected(self._config, self._database)
        return self._table


def _unindexed(column: Any) -> Any:
    """``+column``: the same value, which SQLite's planner will not look up by index."""
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)

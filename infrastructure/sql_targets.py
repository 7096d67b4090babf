"""Rows of one user in one SQL table, the rows of child tables that refer to them,
and the files named by those rows' keys.

Every statement filters on the project and the user, the DELETE itself included:
the key chooses a batch, never whose rows go, so a key that is not unique (a
session id reused across projects) cannot take another user's rows with it. A child
row that also refers to someone else's session is never deleted: it is detached
from the person's, or the batch fails (infrastructure.sql_shared_rows).
"""

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import String, Table, bindparam, delete, func, literal_column, select
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from application.ports import BatchInterrupted
from infrastructure.database import Database
from infrastructure.sql_children import children_of, unique
from infrastructure.sql_coverage import check_covered
from infrastructure.sql_errors import SqlTargetError, reported_as
from infrastructure.sql_exact import exactly
from infrastructure.sql_owner import whose_rows
from infrastructure.sql_shared_rows import SharedRows, find_shared
from infrastructure.sql_tables import checked_table, key_column, reflected
from infrastructure.target_config import ConfigError, SqlTargetConfig


class SessionFiles(Protocol):
    """Files or objects named by a session's key (a files or s3 target's pattern)."""

    name: str

    def check(self) -> None: ...

    def describe(self) -> str: ...

    def remove_sessions(self, project_id: int, user_id: str, session_ids: list[Any]) -> int: ...

    def count(self, project_id: int, user_id: str, session_id: object = "") -> int: ...


class SqlTarget:
    counts_exactly = True  # the batch's rows are locked, its files follow them

    def __init__(
        self,
        config: SqlTargetConfig,
        database: Database,
        session_files: Sequence["SessionFiles"] = (),
        child_configs: Sequence[SqlTargetConfig] = (),
    ) -> None:
        self.name = config.name
        self._database = database
        self._config = config
        self._session_files = session_files
        # Deepest first: each child's rows go before the rows they refer to.
        self._children = children_of(self, child_configs, database)
        self._table: Table | None = None
        self._statements: dict[str, Any] = {}
        self._shared: dict[str, SharedRows] | None = None

    @property
    def _label(self) -> str:
        return f"{self.name}: table {self._config.table}"

    @property
    def _keyed(self) -> bool:
        """Whether batches are chosen by key first: children and device-linked
        sessions go by the batch's keys."""
        return bool(self._children) or self._config.follow_device

    def check(self) -> None:
        """Raises ConfigError naming the target unless its table, columns, children
        and directories are there, and no table refers to its tables uncovered."""
        config = self._config
        columns = [config.user_id_column, config.project_id_column]
        table = checked_table(
            self.name,
            config.table,
            self.resolved,
            [*columns, config.id_column, config.device_column],
        )
        if not isinstance(table.c[config.user_id_column].type, String):
            # A number column compares as a number: a request about user '007' or
            # ' 7' would take user 7's rows.
            raise ConfigError(
                f"Target {self.name}: column {config.user_id_column!r} of table "
                f"{config.table!r} is not text: a user id is compared as text."
            )
        key = key_column(self._config, table)
        if self._children and not unique(table, [key.name], self._database):
            # Children are found by the key alone: a key shared with another user's
            # row would take that user's child rows too.
            raise ConfigError(
                f"Target {self.name}: child tables need {key.name!r} to be unique "
                "(its primary key, or a unique index)."
            )
        if self._session_files and not unique(table, [key.name], self._database):
            # So are a session's files: a key another user's row also holds (a session
            # that went from one person to another) names a recording that is theirs
            # too, and deleting the person's row would take it.
            named = ", ".join(files.name for files in self._session_files)
            raise ConfigError(
                f"Target {self.name}: files or objects named by a session ({named}) need "
                f"{key.name!r} to be unique (its primary key, or a unique index)."
            )
        for files in self._session_files:
            files.check()
        for child in self._children:
            child.check()
        check_covered(self.name, self._database, self, self._children)

    def describe(self) -> list[str]:
        where = "jobtrail's database" if self._config.url is None else "its own database"
        lines = [f"{self.name}: rows of table {self._config.table} in {where}"]
        if self._config.follow_device:
            lines[0] += f", and the anonymous sessions of the person's {self._config.device_column}"
        lines += [child.describe() for child in reversed(self._children)]
        return lines + [
            f"{files.describe()} (named by {self.name})" for files in self._session_files
        ]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        owner = {"project_id": project_id, "user_id": user_id}
        counts = {self.name: 0, **{files.name: 0 for files in self._session_files}}
        counts.update({child.name: 0 for child in self._children})
        try:
            # Durable, like the log: a BatchDeleted event must never outlive its deletion.
            with reported_as(self._label), self._database.writer() as conn:
                if self._keyed:
                    keys = self._batch(conn, owner, limit)
                    if not keys:
                        return counts
                    self._delete_children(conn, {**owner, "keys": keys}, counts)
                    result = conn.execute(self._statement("delete_keys"), {**owner, "keys": keys})
                else:
                    result = conn.execute(self._statement("delete"), {**owner, "limit": limit})
                if not self._session_files and not self._keyed:
                    counts[self.name] = result.rowcount
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
                came_back = {name: 0 for name in counts if name not in gone}
                raise BatchInterrupted({**came_back, **gone}, error) from error
            raise
        counts[self.name] = len(deleted)
        return counts

    def _delete_children(self, conn: Any, batch: dict[str, Any], counts: dict[str, int]) -> None:
        """Child rows first, deepest first, in the batch's transaction, each whatever its
        ON DELETE: counted by its own DELETE (a cascade's rows would go uncounted), and
        no foreign key refuses the parent. A row that also refers to someone else's
        session is detached from the person's, or else refuses the batch."""
        for child in self._children:
            shared = self._shared_rows().get(child.name)
            if shared is not None and shared.detachable:
                detaching = self._statement(f"detach {child.name}")
                counts[shared.detached] = int(conn.execute(detaching, batch).rowcount)
            elif (
                shared is not None
                and conn.execute(self._statement(f"count shared {child.name}"), batch).scalar_one()
            ):
                raise SqlTargetError(shared.refusal())
            deleting = self._statement(f"delete {child.name}")
            counts[child.name] = int(conn.execute(deleting, batch).rowcount)

    def _batch(self, conn: Any, owner: dict[str, Any], limit: int) -> list[Any]:
        """The batch's keys, locked. Sessions linked by a device go before the
        person's own: deleting the last session that links a device first would
        strand its anonymous sessions, which nothing could then find."""
        keys: list[Any] = []
        if self._config.follow_device:
            linked = self._statement("batch_linked")
            keys = list(conn.execute(linked, {**owner, "limit": limit}).scalars())
        if len(keys) < limit:
            owned = {**owner, "limit": limit - len(keys)}
            keys += conn.execute(self._statement("batch"), owned).scalars()
        return keys

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        owner = {"project_id": project_id, "user_id": user_id}
        left: dict[str, int] = {}
        with reported_as(self._label), self._database.reader() as conn:
            left[self.name] = int(conn.execute(self._statement("count"), owner).scalar_one())
            for child in self._children:
                counting = self._statement(f"count {child.name}")
                left[child.name] = int(conn.execute(counting, owner).scalar_one())
            files_left = bool(self._session_files and left[self.name])
            keys = (
                list(conn.execute(self._statement("keys"), owner).scalars()) if files_left else []
            )
        for files in self._session_files:
            left[files.name] = sum(files.count(project_id, user_id, key) for key in keys)
        return left

    # The Parent of the target's children: its rows are the batch's sessions.

    def resolved(self) -> Table:
        if self._table is None:
            self._table = reflected(self._config, self._database)
        return self._table

    def key_names(self) -> list[str]:
        return [key_column(self._config, self.resolved()).name]

    def values(self, names: list[str], sessions: Any) -> Any:
        table = self.resolved()
        key = key_column(self._config, table)
        if names == [key.name]:
            return sessions
        return select(*(table.c[name] for name in names)).where(key.in_(sessions))

    def persons(self) -> Any:
        table = self.resolved()
        key = key_column(self._config, table)
        return select(key).where(whose_rows(table, self._config).any).scalar_subquery()

    def _shared_rows(self) -> dict[str, SharedRows]:
        """The children whose table another child also reads, found once."""
        if self._shared is None:
            self._shared = find_shared(self._children, self._database)
        return self._shared

    def _statement(self, kind: str) -> Any:
        """The target's statements, built once with the owner's filter in each."""
        if not self._statements:
            self._statements = self._statements_of(self.resolved())
        return self._statements[kind]

    def _statements_of(self, table: Table) -> dict[str, Any]:
        key = key_column(self._config, table)
        whose = whose_rows(table, self._config)
        postgres = self._database.backend == "postgresql"
        # A batch is chosen by the rows' own identity (whatever the key), and the
        # DELETE checks the owner again, so a key shared with other users' rows
        # (or a row changed meanwhile) cannot take anyone else's data.
        row_id: Any = literal_column("ctid" if postgres else "rowid")
        batch = select(row_id).where(whose.owned).limit(bindparam("limit")).scalar_subquery()
        # SQLite would find the batch's rows through the owner's index, reading
        # every row of the user for every batch: its unary + keeps the check a
        # filter, and rows are found by rowid. (PostgreSQL finds them by ctid.)
        project = table.c[self._config.project_id_column]
        user = table.c[self._config.user_id_column]
        recheck = (
            whose.owned
            if postgres
            else (_unindexed(project) == bindparam("project_id"))
            & exactly(_unindexed(user), bindparam("user_id"))
        )
        deleting = delete(table).where(row_id.in_(batch) & recheck)
        keyed = key.in_(bindparam("keys", expanding=True))
        sessions = select(key).where(whose.any)
        statements = {
            "delete": deleting.returning(key) if self._session_files else deleting,
            "batch": select(key).where(whose.owned).limit(bindparam("limit")).with_for_update(),
            "delete_keys": delete(table).where(keyed & whose.any).returning(key),
            "count": select(func.count()).select_from(table).where(whose.any),
            "keys": sessions,
        }
        if whose.linked is not None:
            linked = select(key).where(whose.linked).limit(bindparam("limit"))
            statements["batch_linked"] = linked.with_for_update()
        shared = self._shared_rows()
        keys: Any = bindparam("keys", expanding=True)
        for child in self._children:
            statements[f"delete {child.name}"] = child.delete(keys)
            statements[f"count {child.name}"] = child.count(self.persons())
            if child.name in shared:
                rows = shared[child.name]
                statements[f"delete {child.name}"] = rows.delete(keys)
                statements[f"detach {child.name}"] = rows.detach(keys)
                statements[f"count shared {child.name}"] = rows.count(keys)
        return statements


def _unindexed(column: Any) -> Any:
    """``+column``: the same value, which SQLite's planner will not look up by index."""
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)

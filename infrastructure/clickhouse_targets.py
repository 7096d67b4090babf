"""The ClickHouse targets (``kind = "clickhouse"``, ADR 24): a user's rows by project
and user id; the rows of their sessions (``sessions_from``), deleted before the
sessions' own rows, batch by batch; and values that are the person (OpenReplay's
``experimental.autocomplete``).

Every statement filters on the project. Each table's rows are counted, then deleted
by the same condition (infrastructure.clickhouse_tables), and ``remaining()`` counts
what is left by it again.

``sessions_from`` names a clickhouse target only: a child is found through its
parent's remaining rows, and a parent in another store (``public.sessions``) can be
emptied, by this job or its own retention, while the ClickHouse rows of its sessions
stay, found by nothing (``remaining()`` would say 0). ClickHouse's own sessions
table lists every session it holds events of.
"""

from collections.abc import Collection, Sequence

from application.ports import BatchInterrupted, TransientTargetError
from infrastructure.clickhouse_conditions import NOBODY, Condition
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_owner import whose_rows
from infrastructure.clickhouse_server import ClickHouseServer, ClickHouseTargetError
from infrastructure.clickhouse_tables import ClickHouseTable


class ClickHouseServers:
    """One client per URL, shared by the tables of every target on that server."""

    def __init__(self) -> None:
        self._servers: dict[str, ClickHouseServer] = {}

    def table(self, config: ClickHouseTargetConfig) -> ClickHouseTable:
        server = self._servers.setdefault(config.url, ClickHouseServer(config.url))
        return ClickHouseTable(server, config.name, config.table)


def clickhouse_target(
    config: ClickHouseTargetConfig,
    every: Sequence[object],
    servers: ClickHouseServers,
) -> "list[ClickHouseTarget]":
    """The target a configuration makes (none for a child: its parent deletes it)."""
    if config.is_child:
        return []
    named = {c.name: c for c in every if isinstance(c, ClickHouseTargetConfig)}
    if config.is_values:
        source = named.get(config.identities_from or "")
        identities = None if source is None else ClickHouseIdentities(source, servers.table(source))
        return [ClickHouseValuesTarget(config, servers.table(config), identities)]
    children = [
        ClickHouseSessionRows(child, servers.table(child))
        for child in named.values()
        if child.sessions_from == config.name
    ]
    return [ClickHouseUserTarget(config, servers.table(config), children)]


class ClickHouseSessionRows:
    """Rows of the parent's sessions, and (with ``user_id_column``) rows naming the
    user outside them (OpenReplay's ``product_analytics.events`` has both)."""

    def __init__(self, config: ClickHouseTargetConfig, table: ClickHouseTable) -> None:
        self.name = config.name
        self._config = config
        self._table = table

    def check(self) -> None:
        config = self._config
        self._table.check(
            _present(config.project_id_column, config.session_column, config.user_id_column)
        )

    def describe(self) -> str:
        by = self._config.session_column
        user = self._config.user_id_column
        return f"{self.name}: rows of ClickHouse table {self._config.table} by {by}" + (
            f" or {user}" if user else ""
        )

    def deletes_by_user(self) -> bool:
        return self._config.user_id_column is not None

    def delete(self, project_id: int, sessions: Collection[object], user_id: str) -> int:
        condition = self._condition(sessions, user_id)
        return self._table.delete(self._config.project_id_column, project_id, condition)

    def count(self, project_id: int, sessions: Collection[object], user_id: str) -> int:
        condition = self._condition(sessions, user_id)
        return self._table.count(self._config.project_id_column, project_id, condition)

    def _condition(self, sessions: Collection[object], user_id: str) -> Condition:
        by_user = self._config.user_id_column
        return [[(self._config.session_column, sessions)]] + (
            [[(by_user, [user_id])]] if by_user else []
        )


class ClickHouseUserTarget:
    """A user's rows by project and user id. With children, or on a sessions table that
    keeps versions, a batch is ``limit`` of the user's sessions: the children's rows of
    those sessions go first, then the sessions' rows (so a batch that fails part way
    leaves the sessions that name what is left). With ``follow_device``, the anonymous
    sessions on the person's devices go before the person's own, which are what link
    them: deleting the last session that links a device first would strand its
    anonymous sessions, which nothing could then find."""

    counts_exactly = False  # a mutation's rows are counted before it runs

    def __init__(
        self,
        config: ClickHouseTargetConfig,
        table: ClickHouseTable,
        children: Sequence[ClickHouseSessionRows] = (),
    ) -> None:
        assert config.user_id_column is not None  # checked with the configuration
        self._config = config
        self._user = config.user_id_column
        self._table = table
        self._children = children

    @property
    def name(self) -> str:
        return self._config.name

    def check(self) -> None:
        config = self._config
        session = config.session_column if self._children else None
        self._table.check(
            _present(
                config.project_id_column,
                self._user,
                session,
                config.anonymous_id_column,
                config.device_column,
            )
        )
        for child in self._children:
            child.check()

    def describe(self) -> list[str]:
        line = f"{self.name}: rows of ClickHouse table {self._config.table} by {self._user}"
        if self._config.follow_device:
            line += f", and the anonymous sessions of the person's {self._config.device_column}"
        return [line] + [f"{child.describe()} (named by {self.name})" for child in self._children]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        project = self._config.project_id_column
        whose = whose_rows(self._config, self._table, project_id, user_id)
        counts = dict.fromkeys([self.name, *(child.name for child in self._children)], 0)
        try:
            if not self._by_sessions():
                for rows in (whose.linked, whose.owned):  # the device's sessions first
                    counts[self.name] += self._table.delete(project, project_id, rows)
                return counts
            linked = self._sessions(project_id, user_id, whose.linked, limit)
            owned = self._sessions(project_id, user_id, whose.owned, limit - len(linked))
            sessions = linked + owned
            for child in self._children:
                if sessions or child.deletes_by_user():
                    counts[child.name] = child.delete(project_id, sessions, user_id)
            # The batch's sessions, the device's first, every version of them that names
            # the person or nobody: a sessions table may hold several versions of one
            # (a ReplacingMergeTree's rows before a merge), and an older one, written
            # before the user id was, would become the session again; a version naming
            # someone else is theirs. Once no session of the person's is left, any row
            # of theirs without a session.
            batches = [self._versions(linked, user_id), self._versions(owned, user_id)]
            for rows in batches if sessions else [whose.owned]:
                counts[self.name] += self._table.delete(project, project_id, rows)
        except BatchInterrupted as interrupted:
            for name, count in interrupted.deleted.items():
                counts[name] += count
            raise BatchInterrupted(counts, interrupted.cause) from None
        except (TransientTargetError, ClickHouseTargetError) as error:
            if any(counts.values()):  # rows of this batch already gone: counted
                raise BatchInterrupted(counts, error) from None
            raise
        return counts

    def _by_sessions(self) -> bool:
        """Whether a batch goes by the person's sessions: with tables that refer to
        them, and on a sessions table that keeps versions of a session, whose older
        ones (written before the user id was) would otherwise become the session again."""
        if self._children:
            return True
        return self._table.keeps_versions() and self._config.session_column in self._table.types()

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        project = self._config.project_id_column
        whose = whose_rows(self._config, self._table, project_id, user_id)
        left = {self.name: self._table.count(project, project_id, whose.any)}
        if self._children:
            sessions = self._sessions(project_id, user_id, whose.any)
            for child in self._children:
                left[child.name] = child.count(project_id, sessions, user_id)
        return left

    def _versions(self, sessions: list[object], user_id: str) -> Condition:
        """The rows of these sessions that name the person, or nobody."""
        session = self._config.session_column
        return [[(session, sessions), (self._user, named)] for named in ([user_id], NOBODY)]

    def _sessions(
        self, project_id: int, user_id: str, condition: Condition, limit: int | None = None
    ) -> list[object]:
        """The sessions of the condition's rows (at most ``limit``), but a session
        whose newest version names someone else: an older version named the person
        (they logged out, another logged in), and the session and its rows in other
        tables are the other's now. The person's version of it still goes, with their
        rows outside any session of theirs (the last batch's ``whose.owned``)."""
        if limit is not None and limit <= 0:
            return []
        found = self._table.distinct(
            self._config.session_column,
            self._config.project_id_column,
            project_id,
            condition,
            limit,
            unless_newest_names=(self._user, user_id),
        )
        return [session for session in found if session is not None]


class ClickHouseIdentities:
    """The person's anonymous ids, read from the sessions target's rows: each one
    theirs only if no session of another user id in the project carries it, and it is
    no user id of the project."""

    def __init__(self, sessions: ClickHouseTargetConfig, table: ClickHouseTable) -> None:
        assert sessions.user_id_column and sessions.anonymous_id_column  # checked
        self._config = sessions
        self._table = table

    def check(self) -> None:
        config = self._config
        self._table.check(
            _present(config.project_id_column, config.user_id_column, config.anonymous_id_column)
        )

    def anonymous_ids(self, project_id: int, user_id: str) -> list[str]:
        config = self._config
        assert config.user_id_column and config.anonymous_id_column
        found = self._table.exclusive(
            config.anonymous_id_column,
            config.user_id_column,
            config.project_id_column,
            project_id,
            user_id,
        )
        candidates = [str(one) for one in found if one and one != user_id]
        if not candidates:
            return []
        # Nor one that is a user id of the project (infrastructure.person_identities).
        someones = {
            str(one)
            for one in self._table.distinct(
                config.user_id_column,
                config.project_id_column,
                project_id,
                [[(config.user_id_column, candidates)]],
            )
        }
        return [one for one in candidates if one not in someones]


class ClickHouseValuesTarget:
    """Rows whose value is the person: in a row of a user id type, the user id; in a
    row of an anonymous id type, one of their own anonymous ids."""

    counts_exactly = False  # a mutation's rows are counted before it runs

    def __init__(
        self,
        config: ClickHouseTargetConfig,
        table: ClickHouseTable,
        identities: ClickHouseIdentities | None,
    ) -> None:
        assert config.value_column is not None  # a values target
        self._config = config
        self._value = config.value_column
        self._table = table
        self._identities = identities

    @property
    def name(self) -> str:
        return self._config.name

    def check(self) -> None:
        config = self._config
        self._table.check(_present(config.project_id_column, self._value, config.type_column))
        if self._identities is not None:
            self._identities.check()

    def describe(self) -> list[str]:
        whose = "the user id" + (" and anonymous ids" if self._identities else "")
        return [f"{self.name}: values of ClickHouse table {self._config.table} that are {whose}"]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        condition = self._condition(project_id, user_id)
        return {
            self.name: self._table.delete(self._config.project_id_column, project_id, condition)
        }

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        condition = self._condition(project_id, user_id)
        return {self.name: self._table.count(self._config.project_id_column, project_id, condition)}

    def _condition(self, project_id: int, user_id: str) -> Condition:
        config = self._config
        anonymous = self._identities.anonymous_ids(project_id, user_id) if self._identities else []
        if config.type_column is None:
            return [[(self._value, [user_id, *anonymous])]]
        kind = config.type_column
        return [
            [(kind, config.user_id_types), (self._value, [user_id])],
            [(kind, config.anonymous_id_types), (self._value, anonymous)],
        ]


def _present(*columns: str | None) -> list[str]:
    return [column for column in columns if column is not None]


ClickHouseTarget = ClickHouseUserTarget | ClickHouseValuesTarget

"""jobtrail's event recorders: eventsourcing's, with the hash chain (``chain``), one
read the library does not have (the events of many aggregates in one query), and a
NULL state read back as None on PostgreSQL too (ADR 17: damage is contained)."""

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from infrastructure.chain import (
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
)

EventsOf = dict[UUID, list[StoredEvent]]


class SQLiteRecorder(ChainedSQLiteApplicationRecorder):
    def select_events_of(self, originator_ids: Collection[UUID]) -> EventsOf:
        """Every event of each aggregate, in order; aggregates with none are absent."""
        statement = (
            f"SELECT * FROM {self.events_table_name} "  # noqa: S608 - the library's own name
            "WHERE originator_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY originator_id, originator_version"
        )
        found: EventsOf = defaultdict(list)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (json.dumps([i.hex for i in originator_ids]),))
            for row in cursor.fetchall():
                event = StoredEvent(
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                found[UUID(str(event.originator_id))].append(event)
        return found

    def select_positioned_events(self, originator_id: UUID) -> list[Notification]:
        """One aggregate's events with their positions in the log, in version order."""
        statement = (
            f"SELECT rowid, * FROM {self.events_table_name} "  # noqa: S608 - the library's own name
            "WHERE originator_id = ? ORDER BY originator_version"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (originator_id.hex,))
            return [
                Notification(
                    id=row["rowid"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in cursor.fetchall()
            ]


class PostgresRecorder(ChainedPostgresApplicationRecorder):
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """eventsourcing's query, but a NULL state comes back as None (see below)."""
        statement = self.select_events_statement
        params: list[object] = [originator_id]
        if gt is not None:
            statement += SQL(" AND originator_version > %s")
            params.append(gt)
        if lte is not None:
            statement += SQL(" AND originator_version <= %s")
            params.append(lte)
        statement += SQL(
            " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
        )
        if limit is not None:
            statement += SQL(" LIMIT %s")
            params.append(limit)
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, params, prepare=True)
            return [_stored_event(row) for row in cursor.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """eventsourcing's query, but a row whose state is NULL comes back with None
        (as SQLite's does), for the mapper to call damaged, instead of failing the
        whole page, and with it every reader of the log behind that row."""
        if topics:
            selected: Sequence[Notification] = super().select_notifications(
                start, limit, stop, topics, inclusive_of_start=inclusive_of_start
            )
            return selected
        conditions, params = [], []
        if start is not None:
            conditions.append(
                SQL("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            )
            params.append(start)
        if stop is not None:
            conditions.append(SQL("notification_id <= %s"))
            params.append(stop)
        statement = SQL("SELECT * FROM {schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        if conditions:
            statement += SQL(" WHERE ") + SQL(" AND ").join(conditions)
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, params, prepare=True)
            return [_notification(row) for row in cursor.fetchall()]

    def select_events_of(self, originator_ids: Collection[UUID]) -> EventsOf:
        """Every event of each aggregate, in order; aggregates with none are absent."""
        statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        found: EventsOf = defaultdict(list)
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (list(originator_ids),), prepare=True)
            for row in cursor.fetchall():
                found[row["originator_id"]].append(_stored_event(row))
        return found

    def select_positioned_events(self, originator_id: UUID) -> list[Notification]:
        """One aggregate's events with their positions in the log, in version order."""
        statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = %s ORDER BY originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (originator_id,))
            return [_notification(row) for row in cursor.fetchall()]


def _stored_event(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=_bytes_or_none(row["state"]),
    )


def _notification(row: dict[str, Any]) -> Notification:
    return Notification(
        id=row["notification_id"],
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=_bytes_or_none(row["state"]),
    )


def _bytes_or_none(state: object) -> bytes:
    """A stored state as bytes; a NULL one as None, typed as the library types it."""
    return None if state is None else bytes(state)  # type: ignore[call-overload,return-value]

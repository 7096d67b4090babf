"""jobtrail's event recorders: eventsourcing's, with the hash chain (``chain``) and one
read the library does not have: the events of many aggregates in one query."""

import json
from collections import defaultdict
from collections.abc import Collection
from uuid import UUID

from eventsourcing.persistence import StoredEvent
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


class PostgresRecorder(ChainedPostgresApplicationRecorder):
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
                found[row["originator_id"]].append(
                    StoredEvent(
                        originator_id=row["originator_id"],
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    )
                )
        return found

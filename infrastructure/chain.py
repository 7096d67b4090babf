"""Tamper evidence: a hash chain over the event log, written with the events.

Every event's link is ``sha256(previous hash, position, originator id, version,
topic, state)`` over length-prefixed fields, stored in ``event_chain`` by the
same transaction that appends the event. On PostgreSQL the database computes the
links (infrastructure/append_function.py) under eventsourcing's EXCLUSIVE lock on
the events table; on SQLite this module does, under the database's write lock. So
concurrent writers extend one chain: it cannot fork. ``verify_chain`` recomputes
every link here, whichever wrote it.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from sqlalchemy import select

from application.event_log import JobLog
from domain.log_entry import event_entry
from infrastructure.append_function import append_statement, append_values
from infrastructure.database import Database
from infrastructure.personal_data import keys_to_store
from infrastructure.tables import event_chain

GENESIS = "0" * 64
_SQLITE_HEAD = "SELECT hash FROM event_chain ORDER BY position DESC LIMIT 1"
_SQLITE_APPEND = "INSERT INTO event_chain (position, hash, prev_hash) VALUES (?, ?, ?)"
_SQLITE_STORE_KEYS = (
    "INSERT INTO personal_data_keys (subject, generation, data_key, created_at) VALUES (?, ?, ?, ?)"
)


def _as_bytes(state: object) -> bytes:
    # An event edited by hand on SQLite may come back as TEXT, or set to NULL: hashed
    # as its UTF-8 bytes (or none), it no longer matches, and verify names its position.
    if state is None:
        return b""
    return state.encode() if isinstance(state, str) else bytes(state)  # type: ignore[call-overload]


def stored_entry(position: int, event: StoredEvent) -> bytes:
    """The event's entry (domain.log_entry) as the database holds it now."""
    return event_entry(
        position,
        str(event.originator_id),
        event.originator_version,
        _as_bytes(event.topic),
        _as_bytes(event.state),
    )


def link_hash(previous: str, position: int, event: StoredEvent) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + stored_entry(position, event)).hexdigest()


def chain_links(
    previous: str, positions: Sequence[int], events: Sequence[StoredEvent]
) -> list[tuple[int, str, str]]:
    """(position, hash, previous hash) for each new event, in order."""
    links = []
    for position, event in zip(positions, events, strict=True):
        current = link_hash(previous, position, event)
        links.append((position, current, previous))
        previous = current
    return links


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if positions:
            c.execute(_SQLITE_HEAD)
            row = c.fetchone()
            links = chain_links(row[0] if row else GENESIS, positions, stored_events)
            c.executemany(_SQLITE_APPEND, links)
        new_keys = keys_to_store()
        if new_keys:
            c.executemany(_SQLITE_STORE_KEYS, new_keys)
        return positions


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """eventsourcing's recorder, appending as scheduling's batches do: one statement
    (infrastructure/append_function.py) takes the library's table lock, inserts the
    events, links them in the database, and stores the keys made for them."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._append = append_statement(
            datastore.schema, events_table_name, with_rows=False
        ).as_bytes(None)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        values = append_values(stored_events, keys_to_store())
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self._append, values, prepare=True)
            return [row["position"] for row in cursor.fetchall()]


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_position: int
    head_hash: str
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def chain_in_order(database: Database, batch: int) -> Iterator[tuple[int, str, str]]:
    after = 0
    while True:
        query = (
            select(event_chain.c.position, event_chain.c.hash, event_chain.c.prev_hash)
            .where(event_chain.c.position > after)
            .order_by(event_chain.c.position)
            .limit(batch)
        )
        with database.reader() as conn:
            page = [(int(p), h, prev) for p, h, prev in conn.execute(query)]
        yield from page
        if len(page) < batch:
            return
        after = page[-1][0]


def verify_chain(
    log: JobLog, database: Database, anchor: tuple[int, str] | None = None, batch: int = 5000
) -> ChainReport:
    """Recomputes the chain over the whole log; reports the first broken link."""
    events, links = log.stored(batch=batch), chain_in_order(database, batch)
    event, link = next(events, None), next(links, None)
    previous, head_position, checked = GENESIS, 0, 0
    anchor_seen = anchor is None

    def broken(position: int, reason: str) -> ChainReport:
        return ChainReport(checked, head_position, previous, position, reason)

    while event is not None or link is not None:
        if link is None or (event is not None and event.id < link[0]):
            assert event is not None
            return broken(event.id, "an event with no link in the chain: inserted outside jobtrail")
        if event is None or link[0] < event.id:
            return broken(link[0], "the event is missing from the log: deleted")
        position, stored_hash, stored_previous = link
        if stored_previous != previous:
            return broken(
                position,
                "its link does not follow the event before it: an event "
                "before it was deleted, inserted or moved",
            )
        recomputed = link_hash(previous, position, event)
        if recomputed != stored_hash:
            return broken(position, "the event's content does not match its hash: altered")
        if anchor is not None and position == anchor[0]:
            if stored_hash != anchor[1]:
                return broken(position, f"the chain does not pass through the anchor {anchor[1]}")
            anchor_seen = True
        previous, head_position, checked = stored_hash, position, checked + 1
        event, link = next(events, None), next(links, None)
    if not anchor_seen:
        assert anchor is not None
        return broken(anchor[0], "the anchored position is not in the log: truncated")
    return ChainReport(checked, head_position, previous)

"""The ``personal_data_keys`` table: where the data keys of subjects are stored, and
the only code that reads, writes or deletes them."""

import json
import secrets
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from infrastructure.database import Database
from infrastructure.tables import personal_data_keys, service_secrets

KeyRef = tuple[str, int]
"""A data key: (subject, key generation)."""

KEYS_DESTROYED = "keys-destroyed"
"""The service_secrets row whose value changes whenever keys are destroyed (a fresh
random token, in the destroying transaction): how other processes hear of it."""

# Prebuilt: no statement is compiled per call (this runs once per scheduling batch).
POSTGRES_KEYS_OF = (
    "SELECT subject, generation, data_key FROM personal_data_keys WHERE subject = ANY(%s)"
)
_SQLITE_KEYS_OF = (
    "SELECT subject, generation, data_key FROM personal_data_keys "
    "WHERE subject IN (SELECT value FROM json_each(?))"
)


class DataKeyTable:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add_missing(self, rows: Sequence[dict[str, Any]]) -> None:
        """Stores these keys, leaving any that exist already as they are."""
        dialect = postgresql if self._db.backend == "postgresql" else sqlite
        # Derived from nothing else, so no fsync of its own: the event sealed with
        # the key commits durably after it, and that flushes this commit too.
        with self._db.writer(durable=False) as conn:
            conn.execute(dialect.insert(personal_data_keys).on_conflict_do_nothing().values(rows))

    def keys_of(self, refs: Collection[KeyRef]) -> dict[KeyRef, bytes]:
        """The stored keys of these refs (those that exist), in one query per thousand."""
        wanted = set(refs)
        found: dict[KeyRef, bytes] = {}
        subjects = sorted({subject for subject, _ in wanted})
        for start in range(0, len(subjects), 1000):
            chunk = subjects[start : start + 1000]
            if self._db.backend == "postgresql":
                rows = self._db.fetch_raw(POSTGRES_KEYS_OF, (chunk,))
            else:
                rows = self._db.fetch_raw(_SQLITE_KEYS_OF, (json.dumps(chunk),))
            for subject, generation, data_key in rows:
                if (subject, generation) in wanted:
                    found[(subject, generation)] = bytes(data_key)
        return found

    def delete(self, refs: Collection[KeyRef]) -> int:
        """Deletes these keys in one transaction, and changes the destroyed mark in
        it when any existed; returns how many existed."""
        deleted = 0
        with self._db.writer() as conn:
            for subject, generation in refs:
                result = conn.execute(
                    delete(personal_data_keys).where(
                        personal_data_keys.c.subject == subject,
                        personal_data_keys.c.generation == generation,
                    )
                )
                deleted += result.rowcount
            if deleted:
                mark = secrets.token_hex(16)
                dialect = postgresql if self._db.backend == "postgresql" else sqlite
                conn.execute(
                    dialect.insert(service_secrets)
                    .values(name=KEYS_DESTROYED, value=mark)
                    .on_conflict_do_update(index_elements=["name"], set_={"value": mark})
                )
        return deleted

    def destroyed_mark(self) -> str | None:
        """The destroyed mark now: another value than before means keys were destroyed."""
        with self._db.reader() as conn:
            mark: str | None = conn.execute(
                select(service_secrets.c.value).where(service_secrets.c.name == KEYS_DESTROYED)
            ).scalar()
        return mark

    def created_before(self, cutoff_ms: int, limit: int) -> list[KeyRef]:
        with self._db.reader() as conn:
            rows = conn.execute(
                select(personal_data_keys.c.subject, personal_data_keys.c.generation)
                .where(personal_data_keys.c.created_at <= cutoff_ms)
                .order_by(personal_data_keys.c.created_at)
                .limit(limit)
            )
            return [(subject, generation) for subject, generation in rows]

    def scrub(self) -> None:
        """Leaves no copy of deleted rows in the database's own files: on SQLite the
        write-ahead log is checkpointed and truncated (freed pages are already zeroed
        by ``secure_delete``); PostgreSQL keeps dead rows until VACUUM reuses them."""
        if self._db.backend == "sqlite":
            with self._db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM personal_data_keys"))

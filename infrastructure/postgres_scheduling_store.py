"""Scheduling's store on PostgreSQL, awaited on the event loop (ADR 29).

A batch of scheduling requests costs at most two statements when its users are new:

1. its reads, in one snapshot: the destroyed-keys mark, the users' data keys, their
   ledgers' events, and as many job ids as the batch may need (kept for the next
   batch when it needs fewer). A user with a ledger costs one more, for their
   latest job's events;
2. its append, one statement and so one transaction (infrastructure/
   append_function.py): the events and their chain links, the data keys made for
   them, and the read model's rows of every job the batch answers with, written as
   they are now (the projection, when it meets those events, finds the rows written
   and leaves them as they are).

When the users of the batch read last were all new, the next batch's users are
taken to be new too, without the first statement: their ledgers have no events,
and job ids come from those kept at hand (``ID_RESERVE``). The append checks the
guess where the log decides anyway: a ledger that has events after all, or a data
key that exists, fails it on the tables' unique keys with nothing written, and the
batch is decided again on what a read finds (scheduling retries a conflicting
batch; the store reads until a batch of new users again). Under a stream of new
users a batch is then one statement.

The answer then goes out with the read model already showing it: no waiting.
Aggregates are decoded and folded by eventsourcing's rules and jobtrail's mapper,
as the log's own reads do (application.event_log.aggregates_from).
"""

import asyncio
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import RecordConflictError, StoredEvent
from psycopg.sql import SQL, Identifier
from psycopg_pool import PoolTimeout

from application.event_log import JobLog, aggregates_from
from application.job_records import JobRow, job_row
from application.projection import JobsProjection
from domain.job import Job
from infrastructure.append_function import append_statement, append_values
from infrastructure.data_key_table import KEYS_DESTROYED
from infrastructure.database import Database, DatabaseUnavailable
from infrastructure.event_store import keys_to_make, sealed_key_refs
from infrastructure.liveness import LivelyAsyncConnectionPool, loop_pool
from infrastructure.personal_data import PersonalDataVault

_MARK, _KEY, _EVENT, _JOB_ID = range(4)
_READS = """
SELECT 0, NULL::uuid, NULL::bigint, value, NULL::bytea FROM service_secrets WHERE name = %s
UNION ALL
SELECT 1, NULL, generation, subject, data_key FROM personal_data_keys WHERE subject = ANY(%s)
UNION ALL
SELECT 2, originator_id, originator_version, topic, state FROM {events}
WHERE originator_id = ANY(%s::uuid[])
UNION ALL
SELECT 3, NULL, nextval('job_ids'), NULL, NULL FROM generate_series(1, %s)
ORDER BY 1, 2, 3
"""
"""A batch's reads in one statement, so in one snapshot: the destroyed-keys mark
with the keys it covers, the users' data keys, the aggregates' events in order,
and job ids for the batch."""
_JOB_IDS = "SELECT nextval('job_ids') FROM generate_series(1, %s)"
ID_RESERVE = 32
"""Job ids a read takes beyond its batch's need, for batches decided without one.
Few: ids a process holds are handed out after ids other processes take meanwhile."""


class PostgresSchedulingStore:
    def __init__(
        self,
        database: Database,
        log: JobLog,
        vault: PersonalDataVault,
        size: int,
        deadline: float,
    ) -> None:
        """``deadline``: seconds a statement may take (the requests waiting on a batch
        are answered 503 by then), so that no batch holds its users for longer."""
        url = database.url
        schema = url.schema or "public"
        self._log, self._vault, self._size = log, vault, size
        self._url = url
        self._deadline = deadline
        # Rendered once: psycopg renders a composed statement again at every execute.
        self._reads = SQL(_READS).format(events=Identifier(schema, url.events_table)).as_bytes(None)
        self._append = append_statement(schema, url.events_table).as_bytes(None)
        self._spare_ids: list[int] = []
        self._users_were_new = False
        """Whether the users of the batch read last had no ledger, nor a data key."""
        self._pool: LivelyAsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    async def open(self) -> None:
        """A new pool, on the running loop: a connection for each batch in flight."""
        self._pool = await loop_pool(
            self._url, "scheduling", self._size, timeout=10, statement_timeout=self._deadline
        )
        try:
            # The installation's subject secret and where sealing began, read once
            # here, so that no request reads them on the loop.
            await asyncio.to_thread(self._log.subject_of, 0, "")
            await asyncio.to_thread(self._log.may_hold_clear_ledgers)
        except DatabaseUnavailable:
            pass  # the database is away at start: the first request reads them

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def aggregates(
        self, aggregate_ids: Collection[UUID], subjects: Collection[str] = ()
    ) -> dict[UUID, Any]:
        if not aggregate_ids:
            return {}
        if subjects and self._users_were_new and len(subjects) <= len(self._spare_ids):
            return dict.fromkeys(aggregate_ids)  # new, as the users before them: unread
        ids_wanted = max(0, len(subjects) + ID_RESERVE - len(self._spare_ids)) if subjects else 0
        stored = await self._read(list(subjects), list(aggregate_ids), ids_wanted)
        # The keys that events sealed with, where the cache does not have them.
        missing = {ref for ref in sealed_key_refs(stored) if not self._vault.is_cached(ref)}
        if missing:
            await self._read(sorted({subject for subject, _ in missing}), [], 0)
        by_aggregate: dict[UUID, list[StoredEvent]] = {}
        for event in stored:
            by_aggregate.setdefault(UUID(str(event.originator_id)), []).append(event)
        return aggregates_from(self._log.mapper.to_domain_event, by_aggregate, aggregate_ids)

    async def _read(
        self, subjects: list[str], aggregate_ids: list[UUID], ids_wanted: int
    ) -> list[StoredEvent]:
        """One snapshot of ``_READS``: the aggregates' events; the subjects' keys go to
        the vault (with the destroyed mark they were read with), job ids to the spares."""
        seen = self._vault.forgetting_seen
        values = (KEYS_DESTROYED, subjects, aggregate_ids, ids_wanted)
        async with self._connection() as connection:
            cursor = await connection.execute(self._reads, values, prepare=True)
            rows = await cursor.fetchall()
        stored, keys, mark = [], {}, None
        for kind, originator_id, number, text, data in rows:
            if kind == _EVENT:
                stored.append(_stored(originator_id, number, text, data))
            elif kind == _KEY:
                keys[(text, number)] = bytes(data)
            elif kind == _MARK:
                mark = text
            else:
                self._spare_ids.append(number)
        if subjects:
            self._vault.heard(mark, keys, seen)
            if aggregate_ids:  # the users' own read, not the keys of sealed events
                self._users_were_new = not (stored or keys)
        self._spare_ids.sort()
        return stored

    async def new_job_ids(self, count: int) -> list[int]:
        if count > len(self._spare_ids):
            async with self._connection() as connection:
                cursor = await connection.execute(
                    _JOB_IDS, (count - len(self._spare_ids),), prepare=True
                )
                more = sorted(int(i) for (i,) in await cursor.fetchall())
                self._spare_ids += more
        taken, self._spare_ids = self._spare_ids[:count], self._spare_ids[count:]
        return taken

    async def append(self, aggregates: Sequence[Any], shown: Sequence[Any]) -> int | None:
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        made = keys_to_make(self._vault, events, look_up=False)
        try:
            with self._vault.stored_with_next_append(made):
                to_stored = self._log.mapper.to_stored_event
                stored = [to_stored(event) for event in events]
                rows = [
                    job_row(aggregate)
                    for aggregate in [*aggregates, *shown]
                    if isinstance(aggregate, Job)
                ]
                # The new jobs' rows are written here: the projection need not fold them.
                projection = JobsProjection.name if JobsProjection.only_schedules(events) else None
                return await self._write(stored, made, rows, projection)
        except RecordConflictError:
            # Another writer came first, or a key went meanwhile, or the users were
            # not new as guessed: nothing was written, and the next batch is read.
            self._users_were_new = False
            raise

    async def _write(
        self,
        stored: list[StoredEvent],
        keys: Sequence[tuple[Any, ...]],
        rows: list[JobRow],
        projection: str | None,
    ) -> int | None:
        if not (stored or rows):
            return None
        values = append_values(stored, keys, rows, projection)
        try:
            # One statement, so one transaction with no BEGIN and COMMIT of its own.
            async with self._connection() as connection:
                cursor = await connection.execute(self._append, values, prepare=True)
                appended = await cursor.fetchall()
        except psycopg.errors.UniqueViolation as error:
            # Another writer appended to one of these aggregates, or stored one of
            # these keys, first (or they were not new, as guessed).
            raise RecordConflictError(str(error)) from error
        return int(appended[-1][0]) if appended else None

    def _connection(self) -> Any:
        if self._pool is None:
            raise DatabaseUnavailable("the scheduling store is not open")
        return _Checkout(self._pool)


class _Checkout:
    """A connection of the pool, with the database's failures said as jobtrail says
    them (DatabaseUnavailable: a 503)."""

    def __init__(self, pool: LivelyAsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> None:
        self._context = pool.connection()

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        try:
            return await self._context.__aenter__()
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise DatabaseUnavailable(str(error)) from error

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._context.__aexit__(*exc_info)
        kind = exc_info[0]
        if kind is not None and issubclass(kind, psycopg.OperationalError):
            raise DatabaseUnavailable(str(exc_info[1])) from exc_info[1]


def _stored(originator_id: UUID, version: int, topic: str, state: Any) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=None if state is None else bytes(state),  # type: ignore[arg-type]
    )

"""An append on PostgreSQL in one statement: the events, in order, their links of the
hash chain, computed by the database under the lock that orders the log, and a
projection's position moved past them when the caller writes their rows itself.

``jobtrail_append(ids, versions, topics, states, projection)`` takes the events table's lock in
EXCLUSIVE mode, as eventsourcing's recorder does (so the two writers take turns,
and notification ids commit in the order they are handed out: a follower reading
``id > position`` never passes over an id that commits later), inserts the events
in the order given, then links each to the chain
head with ``sha256(previous hash || entry)`` (domain.log_entry's bytes, built here
with the same lengths and byte order) and returns their positions. Each statement
of a volatile function takes a fresh snapshot, so the chain head is read after the
lock is held: the writer before it has committed its links.

The links are computed where the lock is held, so the append needs no round trip
between learning its positions and writing its links; ``jobtrail verify``
recomputes every link in Python (infrastructure/chain.py), and a test holds the
two to the same bytes for any event.

``p_projection`` names a projection whose rows for these events the caller writes in
the same transaction (scheduling's new jobs; ledgers' events change no row). If
that projection had applied the whole log before them, its position moves past
them, and its follower has nothing to fold. If it lags, they are noted as a run of
written events (``written_from``, ``written_to``), which the projection steps over
when its position reaches the run (``projection_store``'s ``advance``, ADR 31): under
a steady stream of batches the follower is always behind the batch that lands while
it folds, and it folded each such batch again, over the rows already written. A run
it does not meet at its start (a longer one replaced it) it folds as any events.

The listening followers are woken (NOTIFY) only when the append leaves them events
to fold: an append that moved the position past its own events wakes nobody. Under
a steady stream of batches every one did, and each woke the follower to read the
position and the log only to find nothing (5 to 8% of the API process's time).
"""

from collections.abc import Sequence
from typing import Any

import msgspec
from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql

from application.job_records import COLUMNS, EVENT_COLUMNS, JobRow
from infrastructure.database_url import LOCK_TIMEOUT_SECONDS, DatabaseUrl
from infrastructure.tables import jobs

APPEND_FUNCTION = "jobtrail_append"


def append_statement(schema: str, events_table: str, with_rows: bool = True) -> Composed:
    """An append as one statement, so one transaction with no BEGIN or COMMIT of its
    own: the data keys made for the events, the read model's rows written with them
    (``with_rows``: ``projection_store.show_jobs``), and the events through
    ``jobtrail_append``. Its values (``append_values``) are JSON documents, encoded
    by msgspec in one call each: a list of values per element, dumped one by one by
    the driver, cost more than the rest of the batch."""
    keys = SQL(
        "new_keys AS ("
        " INSERT INTO {keys} (subject, generation, data_key, created_at)"
        " SELECT k->>0, (k->>1)::integer, decode(k->>2, 'base64'), (k->>3)::bigint"
        " FROM jsonb_array_elements(%s::jsonb) AS k)"
    ).format(keys=Identifier(schema, "personal_data_keys"))
    shown = SQL(", {shown}").format(shown=_shown(schema)) if with_rows else SQL("")
    return SQL(
        "WITH {keys}{shown}, events AS ("
        " SELECT array_agg((e->>0)::uuid ORDER BY n) AS ids,"
        " array_agg((e->>1)::bigint ORDER BY n) AS versions,"
        " array_agg(e->>2 ORDER BY n) AS topics,"
        " array_agg(decode(e->>3, 'base64') ORDER BY n) AS states"
        " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x(e, n))"
        " SELECT appended AS position FROM events,"
        " {append}(events.ids, events.versions, events.topics, events.states, %s) AS appended"
    ).format(keys=keys, shown=shown, append=Identifier(schema, APPEND_FUNCTION))


def _shown(schema: str) -> Composed:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    record = SQL(", ").join(
        SQL("{} {}").format(Identifier(name), SQL(jobs.c[name].type.compile(dialect=dialect)))
        for name in COLUMNS
    )
    columns = SQL(", ").join(Identifier(name) for name in COLUMNS)
    changes = SQL(", ").join(
        SQL("{0} = EXCLUDED.{0}").format(Identifier(name)) for name in EVENT_COLUMNS
    )
    return SQL(
        "shown AS ("
        " INSERT INTO {jobs} AS j ({columns})"
        " SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS r({record})"
        " ON CONFLICT (job_id) DO UPDATE SET {changes} WHERE j.version < EXCLUDED.version)"
    ).format(jobs=Identifier(schema, jobs.name), columns=columns, record=record, changes=changes)


def append_values(
    events: Sequence[StoredEvent],
    keys: Sequence[tuple[Any, ...]] = (),
    rows: Sequence[JobRow] | None = None,
    projection: str | None = None,
) -> list[Any]:
    """The values of ``append_statement``: the keys (subject, generation, key,
    created ms), the rows (None for a statement without them), the events, and the
    projection whose rows for these events are among ``rows`` (None if they are not)."""
    stored = [(str(e.originator_id), e.originator_version, e.topic, e.state) for e in events]
    shown = [] if rows is None else [_json(rows)]
    return [_json(keys), *shown, _json(stored), projection]


def _json(value: object) -> Jsonb:
    """A value sent as a JSON document, encoded by msgspec (bytes as base64)."""
    return Jsonb(value, dumps=msgspec.json.encode)


def create_append_function(url: DatabaseUrl) -> Composed:
    schema, events_table = url.schema or "public", url.events_table
    return SQL(
        """
CREATE OR REPLACE FUNCTION {function}(
    p_ids uuid[], p_versions bigint[], p_topics text[], p_states bytea[], p_projection text
) RETURNS SETOF bigint LANGUAGE plpgsql VOLATILE AS $body$
DECLARE
    previous bytea;
    head_before bigint;
    moved_to bigint;
    first_id bigint;
    last_id bigint;
    appended record;
    origin_bytes bytea;
    topic_bytes bytea;
    link bytea;
    positions bigint[] := '{{}}';
    hashes text[] := '{{}}';
    previous_hashes text[] := '{{}}';
BEGIN
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN;  -- no events: the caller wrote rows only, and needs no lock
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- The chain head must be read after the lock is held: a snapshot taken
        -- before it (REPEATABLE READ, SERIALIZABLE) would fork the chain.
        RAISE EXCEPTION USING MESSAGE =
            'jobtrail appends at READ COMMITTED, not ' || current_setting('transaction_isolation');
    END IF;
    SET LOCAL lock_timeout = '{lock_timeout}s';
    LOCK TABLE {events} IN EXCLUSIVE MODE;
    SELECT coalesce(max(e.notification_id), 0) INTO head_before FROM {events} AS e;
    WITH inserted AS (
        INSERT INTO {events} (originator_id, originator_version, topic, state)
        SELECT e.i, e.v, e.t, e.s
        FROM unnest(p_ids, p_versions, p_topics, p_states) WITH ORDINALITY AS e(i, v, t, s, n)
        ORDER BY e.n
        RETURNING notification_id
    )
    SELECT min(i.notification_id), max(i.notification_id) INTO first_id, last_id
    FROM inserted AS i;
    SELECT decode(c.hash, 'hex') INTO previous FROM {chain} AS c ORDER BY c.position DESC LIMIT 1;
    previous := coalesce(previous, decode(repeat('0', 64), 'hex'));
    FOR appended IN
        SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state
        FROM {events} AS e
        WHERE e.notification_id BETWEEN first_id AND last_id ORDER BY e.notification_id
    LOOP
        origin_bytes := convert_to(appended.originator_id::text, 'UTF8');
        topic_bytes := convert_to(appended.topic, 'UTF8');
        link := sha256(
            previous
            || int8send(appended.notification_id)
            || int8send(octet_length(origin_bytes)::bigint) || origin_bytes
            || int8send(appended.originator_version)
            || int8send(octet_length(topic_bytes)::bigint) || topic_bytes
            || int8send(octet_length(appended.state)::bigint) || appended.state
        );
        positions := positions || appended.notification_id;
        hashes := hashes || encode(link, 'hex');
        previous_hashes := previous_hashes || encode(previous, 'hex');
        previous := link;
    END LOOP;
    INSERT INTO {chain} (position, hash, prev_hash)
    SELECT * FROM unnest(positions, hashes, previous_hashes);
    -- Every SET below reads the row as it was. Caught up: the position moves past
    -- these events. Behind: they join the run of written events that ends just
    -- before them, or start a new one (an event of another writer came between).
    -- A run covers the positions after the head it found, so that ids a rolled-back
    -- append took, which hold no event, cannot keep the projection from meeting it.
    UPDATE {positions} AS p SET
        position = CASE WHEN p.position = head_before THEN last_id ELSE p.position END,
        written_from = CASE
            WHEN p.position = head_before THEN NULL
            WHEN p.written_to = head_before THEN p.written_from
            ELSE head_before + 1 END,
        written_to = CASE WHEN p.position = head_before THEN NULL ELSE last_id END
    WHERE p.name = p_projection
    RETURNING p.position INTO moved_to;
    IF moved_to IS DISTINCT FROM last_id THEN
        NOTIFY {channel};  -- the follower has events to fold
    END IF;
    RETURN QUERY SELECT unnest(positions);
END
$body$
"""
    ).format(
        function=Identifier(schema, APPEND_FUNCTION),
        events=Identifier(schema, events_table),
        chain=Identifier(schema, "event_chain"),
        positions=Identifier(schema, "projection_positions"),
        lock_timeout=SQL(str(LOCK_TIMEOUT_SECONDS)),
        channel=Identifier(url.events_channel),
    )

"""An OpenReplay-shaped ClickHouse, written for these tests, on ClickHouse's real
engine in process: chdb, through clickhouse-connect's ``chdb://`` DSN, the same
client code that speaks HTTP to a server in production.

chdb opens one engine folder per process: a client on another folder is refused
while any client is open. So the whole process uses one folder (each pytest-xdist
worker is a process of its own, with its own), and each test starts from freshly
made databases in it.

The tables follow OpenReplay's schema (1.24/1.25): the same databases, names,
engines (ReplacingMergeTree with a version or an is_deleted column,
CollapsingMergeTree, AggregatingMergeTree filled by a materialized view) and the
columns that hold a person, JSON among them; the rest of OpenReplay's columns are
left out.
"""

import atexit
import functools
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

DATABASES = ("experimental", "product_analytics")
SCHEMA = [
    """CREATE TABLE experimental.sessions (
        session_id UInt64, project_id UInt16, user_uuid UUID,
        user_id Nullable(String), user_anonymous_id Nullable(String),
        user_browser LowCardinality(String), datetime DateTime, duration UInt32,
        metadata_1 Nullable(String), _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp) PARTITION BY toYYYYMMDD(datetime)
      ORDER BY (project_id, datetime, session_id) SETTINGS index_granularity = 512""",
    """CREATE TABLE experimental.events (
        session_id UInt64, project_id UInt16,
        event_type Enum8('CLICK' = 0, 'INPUT' = 1, 'LOCATION' = 2, 'CUSTOM' = 6),
        datetime DateTime, label Nullable(String), payload Nullable(String),
        url Nullable(String), message_id UInt64 DEFAULT 0, _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp) PARTITION BY toYYYYMM(datetime)
      ORDER BY (project_id, datetime, event_type, session_id, message_id)""",
    """CREATE TABLE experimental.ios_events (
        session_id UInt64, project_id UInt16,
        event_type Enum8('TAP' = 0, 'INPUT' = 1, 'SWIPE' = 2, 'VIEW' = 3),
        datetime DateTime, label Nullable(String), message_id UInt64 DEFAULT 0,
        _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp) PARTITION BY toYYYYMM(datetime)
      ORDER BY (project_id, datetime, event_type, session_id, message_id)""",
    """CREATE TABLE experimental.autocomplete (
        project_id UInt16, type LowCardinality(String), value String,
        _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp) PARTITION BY toYYYYMM(_timestamp)
      ORDER BY (project_id, type, value)""",
    """CREATE TABLE experimental.user_viewed_sessions (
        project_id UInt16, user_id UInt32, session_id UInt64, _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp) ORDER BY (project_id, user_id, session_id)""",
    """CREATE TABLE experimental.user_favorite_sessions (
        project_id UInt16, user_id UInt32, session_id UInt64,
        _timestamp DateTime DEFAULT now(), sign Int8
    ) ENGINE = CollapsingMergeTree(sign) ORDER BY (project_id, user_id, session_id)""",
    """CREATE TABLE product_analytics.users (
        project_id UInt16, `$user_id` String, `$email` String DEFAULT '',
        `$name` String DEFAULT '', properties JSON DEFAULT '{}',
        _deleted_at DateTime DEFAULT '1970-01-01 00:00:00', _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp) ORDER BY (project_id, `$user_id`)""",
    """CREATE TABLE product_analytics.events (
        project_id UInt16, event_id UUID, `$event_name` String, created_at DateTime64,
        distinct_id String, `$user_id` String, session_id UInt64 DEFAULT 0,
        properties JSON DEFAULT '{}', `$properties` JSON DEFAULT '{}',
        _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp)
      ORDER BY (project_id, `$event_name`, created_at, session_id)""",
    """CREATE TABLE product_analytics.users_distinct_id (
        project_id UInt16, distinct_id String, `$user_id` String,
        _is_deleted UInt8 DEFAULT 0, _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp, _is_deleted) ORDER BY (project_id, distinct_id)""",
    """CREATE TABLE product_analytics.user_devices (
        project_id UInt16, `$device_id` String, `$user_id` String,
        _is_deleted UInt8 DEFAULT 0, _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp, _is_deleted)
      ORDER BY (project_id, `$device_id`, `$user_id`)""",
    """CREATE TABLE product_analytics.autocomplete_simple (
        project_id UInt16, source Enum8('sessions' = 0), name LowCardinality(String),
        value String, data_count AggregateFunction(sum, UInt16), _timestamp DateTime
    ) ENGINE = AggregatingMergeTree() ORDER BY (project_id, source, name, value)
      SETTINGS allow_dimensions_outside_sorting_key = 1""",  # OpenReplay's _timestamp: 26.x asks
    """CREATE MATERIALIZED VIEW product_analytics.autocomplete_simple_mv
        TO product_analytics.autocomplete_simple AS
    SELECT project_id, 'sessions' AS source, t.1 AS name, toString(t.2) AS value,
           sumState(toUInt16(1)) AS data_count, _timestamp
    FROM experimental.sessions
    ARRAY JOIN [('user_id', user_id), ('user_anonymous_id', user_anonymous_id),
                ('user_browser', user_browser)] AS t
    WHERE isNotNull(t.2) AND notEmpty(toString(t.2))
    GROUP BY ALL""",
]


@functools.cache
def clickhouse_url() -> str:
    """This process's one engine folder, as a DSN."""
    folder = tempfile.mkdtemp(prefix="jobtrail-chdb-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return f"chdb://{folder}"


@functools.cache
def client() -> "Client":
    import clickhouse_connect

    return clickhouse_connect.get_client(dsn=clickhouse_url())


def fresh_installation() -> "Client":
    """OpenReplay's ClickHouse databases, made anew and empty."""
    ch = client()
    for database in DATABASES:
        ch.command(f"DROP DATABASE IF EXISTS {database} SYNC")
        ch.command(f"CREATE DATABASE {database}")
    for statement in SCHEMA:
        ch.command(statement)
    return ch


@dataclass(frozen=True)
class Person:
    """Someone's sessions in a project, and the anonymous id their sessions carry."""

    project_id: int
    user_id: str | None
    sessions: range
    anonymous_id: str
    device: str
    shared_anonymous_id: str | None = None
    """Carried by their first session instead (a browser someone else used too)."""


ALICE = Person(
    1,
    "alice",
    range(1001, 1013),
    "anon-alice",
    "aa000000-0000-4000-8000-000000000001",
    "anon-shared",
)
BOB = Person(
    1, "bob", range(2001, 2007), "anon-bob", "bb000000-0000-4000-8000-000000000002", "anon-shared"
)
CAROL = Person(1, "carol", range(5001, 5002), "alice", "cc000000-0000-4000-8000-000000000003")
"""Her anonymous id is the string ``alice``: a value of hers, not alice's."""
BEFORE_LOGIN = Person(1, None, range(4001, 4002), "anon-alice", ALICE.device)
"""Alice's browser before she logged in: no user id, so her anonymous id stays hers."""
ALICE_ELSEWHERE = Person(
    2, "alice", range(3001, 3005), "anon-alice-2", "aa000000-0000-4000-8000-000000000009"
)
"""The same user id in another project: another person, as far as a job knows."""
PEOPLE = [ALICE, BOB, CAROL, BEFORE_LOGIN, ALICE_ELSEWHERE]
STAFF = 7
T0 = datetime(2026, 4, 20, 9, 0)
T1, T2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
"""Events of one name at one instant are one row to a ReplacingMergeTree."""


def names(spaced: str) -> list[str]:
    return spaced.split()


SESSION_COLUMNS = names(
    "session_id project_id user_uuid user_id user_anonymous_id user_browser datetime duration "
    "metadata_1"
)


def load(ch: "Client") -> None:
    """Everyone's rows, in every table."""
    load_sessions(ch, PEOPLE)
    ch.insert(
        "experimental.autocomplete",
        [
            [1, "USERID", "alice"],
            [1, "USERID_MOBILE", "alice"],
            [1, "USERANONYMOUSID", "anon-alice"],
            [1, "USERANONYMOUSID_IOS", "anon-alice"],
            [1, "USERANONYMOUSID", "anon-shared"],  # bob's browser too: it stays
            [1, "USERID", "bob"],
            [1, "USERANONYMOUSID", "anon-bob"],
            [1, "USERANONYMOUSID", "alice"],  # carol's anonymous id: it stays
            [1, "CLICK", "alice"],  # a button's label: not a type of ids, it stays
            [1, "USERBROWSER", "Firefox"],
            [2, "USERID", "alice"],
            [2, "USERANONYMOUSID", "anon-alice-2"],
        ],
        column_names=["project_id", "type", "value"],
    )
    ch.insert(
        "experimental.user_viewed_sessions",
        [[1, STAFF, 1001], [1, STAFF + 1, 1002], [1, STAFF, 2001], [2, STAFF, 3001]],
        column_names=["project_id", "user_id", "session_id"],
    )
    ch.insert(
        "experimental.user_favorite_sessions",
        [[1, STAFF, 1003, 1], [1, STAFF, 2002, 1]],
        column_names=["project_id", "user_id", "session_id", "sign"],
    )
    ch.insert(
        "product_analytics.users",
        [
            [1, "alice", "alice@example.com", "Alice", {"plan": "gold", "city": "Lyon"}],
            [1, "bob", "bob@example.com", "Bob", {"plan": "free"}],
            [2, "alice", "alice@other.example", "Alice B.", {}],
        ],
        column_names=["project_id", "$user_id", "$email", "$name", "properties"],
    )
    ch.insert(
        "product_analytics.users_distinct_id",
        [[1, ALICE.device, "alice"], [1, BOB.device, "bob"], [2, ALICE_ELSEWHERE.device, "alice"]],
        column_names=["project_id", "distinct_id", "$user_id"],
    )
    ch.insert(
        "product_analytics.user_devices",
        [
            [1, ALICE.device, "alice"],
            [1, ALICE.device, "bob"],  # he used her laptop once: his row stays
            [2, ALICE_ELSEWHERE.device, "alice"],
        ],
        column_names=["project_id", "$device_id", "$user_id"],
    )
    # Sent by a backend, outside any session: found by $user_id alone.
    ch.insert(
        "product_analytics.events",
        [
            [1, uuid.uuid4(), "purchase", T0, "server", "alice", 0, {"amount": 30}],
            [1, uuid.uuid4(), "purchase", T1, "server", "alice", 0, {"amount": 12}],
            [1, uuid.uuid4(), "purchase", T2, "server", "bob", 0, {"amount": 5}],
            [2, uuid.uuid4(), "purchase", T0, "server", "alice", 0, {"amount": 9}],
        ],
        column_names=[*EVENT_COLUMNS, "properties"],
    )


EVENT_COLUMNS = names("project_id event_id $event_name created_at distinct_id $user_id session_id")
COLUMNS = {
    "experimental.sessions": SESSION_COLUMNS,
    "experimental.events": names(
        "session_id project_id event_type datetime label payload message_id"
    ),
    "experimental.ios_events": names("session_id project_id event_type datetime label"),
    "product_analytics.events": [*EVENT_COLUMNS, "$properties"],
}


def load_sessions(ch: "Client", people: Sequence[Person]) -> None:
    """These people's sessions and their events, one insert a table (one part a
    partition: a mutation takes a while a partition, in chdb)."""
    rows: dict[str, list[list[Any]]] = {table: [] for table in COLUMNS}
    for person in people:
        for n, session_id in enumerate(person.sessions):
            anonymous = (person.shared_anonymous_id if n == 0 else None) or person.anonymous_id
            rows["experimental.sessions"].append(
                [
                    session_id,
                    person.project_id,
                    uuid.UUID(person.device),
                    person.user_id,
                    anonymous,
                    "Firefox",
                    T0 + timedelta(days=n % 2),  # two daily partitions
                    60 + n,
                    f"seat of {person.user_id}",
                ]
            )
            rows["experimental.events"] += [
                [session_id, person.project_id, kind, T0, f"typed by {person.user_id}", "{}", m]
                for m, kind in enumerate(["CLICK", "INPUT", "LOCATION"])
            ]
            if n < 2:  # the first two sessions were on their phone
                rows["experimental.ios_events"].append(
                    [session_id, person.project_id, "TAP", T0, "Log in"]
                )
            rows["product_analytics.events"].append(
                [
                    person.project_id,
                    uuid.uuid4(),
                    "LOCATION",
                    T0,
                    person.device,
                    "",
                    session_id,
                    {"url": "/cart"},
                ]
            )
    for table, columns in COLUMNS.items():
        ch.insert(table, rows[table], column_names=columns)


PERSON = {
    "experimental.sessions": "project_id = 1 AND user_id = 'alice'",
    "experimental.events": "project_id = 1 AND session_id BETWEEN 1001 AND 1012",
    "experimental.ios_events": "project_id = 1 AND session_id BETWEEN 1001 AND 1012",
    "experimental.user_viewed_sessions": "project_id = 1 AND session_id BETWEEN 1001 AND 1012",
    "experimental.user_favorite_sessions": "project_id = 1 AND session_id BETWEEN 1001 AND 1012",
    "experimental.autocomplete": "project_id = 1 AND ((type IN ('USERID', 'USERID_MOBILE') "
    "AND value = 'alice') OR (type LIKE 'USERANONYMOUSID%' AND value = 'anon-alice'))",
    "product_analytics.autocomplete_simple": "project_id = 1 AND ((name = 'user_id' AND "
    "value = 'alice') OR (name = 'user_anonymous_id' AND value = 'anon-alice'))",
    "product_analytics.users": "project_id = 1 AND `$user_id` = 'alice'",
    "product_analytics.events": "project_id = 1 AND (session_id BETWEEN 1001 AND 1012 "
    "OR `$user_id` = 'alice')",
    "product_analytics.users_distinct_id": "project_id = 1 AND `$user_id` = 'alice'",
    "product_analytics.user_devices": "project_id = 1 AND `$user_id` = 'alice'",
}
"""Alice's rows in project 1, table by table, in plain SQL: what a job for her must
delete, and nothing more."""


def rows_of(ch: "Client", table: str, where: str = "1") -> list[str]:
    """A table's rows (or those ``where`` says), each as text (an aggregate's state
    too), in order: two snapshots compare equal when they hold the same rows."""
    found = ch.query(f"SELECT * APPLY toString FROM {table} WHERE {where}").result_rows
    return sorted(repr(row) for row in found)

"""``follow_device`` in SQL, with a device column that holds nobody's device: an
empty device (``''``, as an SDK sends "no device") is none, as NULL is, the rule
ClickHouse's sessions target keeps (infrastructure.clickhouse_owner); the anonymous
sessions with an empty device are anyone's, and a job for the person leaves them."""

import pytest
from sqlalchemy import text

from api.composition import Services
from infrastructure.sql_targets import SqlTarget
from infrastructure.target_config import SqlTargetConfig

SESSIONS = SqlTargetConfig(
    name="sessions",
    table="or_sessions",
    id_column="session_id",
    device_column="user_uuid",
    follow_device=True,
)


def test_anonymous_sessions_with_an_empty_device_are_not_followed(services: Services) -> None:
    database = services.database
    with database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE or_sessions (session_id INTEGER PRIMARY KEY, project_id INTEGER,"
                " user_id TEXT, user_uuid TEXT)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO or_sessions VALUES (1, 7, 'alice', ''), (2, 7, NULL, ''),"
                " (3, 7, '', ''), (4, 7, 'alice', NULL), (5, 7, NULL, NULL),"
                " (6, 7, 'alice', 'laptop'), (7, 7, NULL, 'laptop')"
            )
        )
    target = SqlTarget(SESSIONS, database)
    assert target.remaining(7, "alice") == {"sessions": 4}
    assert target.delete_batch(7, "alice", 10) == {"sessions": 4}
    with database.reader() as conn:
        left = conn.execute(text("SELECT session_id FROM or_sessions ORDER BY 1")).scalars().all()
    assert left == [2, 3, 5]


def test_anonymous_sessions_with_a_zero_uuid_device_are_not_followed(services: Services) -> None:
    database = services.database
    if database.backend != "postgresql":
        pytest.skip("a UUID column is PostgreSQL's")
    zero, laptop = "00000000-0000-0000-0000-000000000000", "7f1c0a52-3c4b-4f4e-9d36-5a0e1c9b2d11"
    with database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE or_sessions (session_id INTEGER PRIMARY KEY, project_id INTEGER,"
                " user_id TEXT, user_uuid UUID NOT NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO or_sessions VALUES (1, 7, 'alice', :zero), (2, 7, NULL, :zero),"
                " (3, 7, 'alice', :laptop), (4, 7, NULL, :laptop)"
            ),
            {"zero": zero, "laptop": laptop},
        )
    target = SqlTarget(SESSIONS, database)
    assert target.delete_batch(7, "alice", 10) == {"sessions": 3}
    with database.reader() as conn:
        left = conn.execute(text("SELECT session_id FROM or_sessions ORDER BY 1")).scalars().all()
    assert left == [2]

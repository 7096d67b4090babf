"""A session whose user id is empty (as some SDKs send "no user") is nobody's, as a
NULL one is: it does not make the person's anonymous id or device shared, and on
the person's device ``follow_device`` takes it, in SQL as in ClickHouse
(infrastructure.clickhouse_tables.exclusive, clickhouse_owner)."""

from pathlib import Path

import msgspec
from sqlalchemy import text

from infrastructure.database import Database, parse_database_url
from infrastructure.person_identities import PersonIdentities
from infrastructure.sql_targets import SqlTarget
from infrastructure.target_config import SqlTargetConfig

SESSIONS = SqlTargetConfig(
    name="sessions",
    table="sessions",
    id_column="session_id",
    anonymous_id_column="user_anonymous_id",
)


def test_an_anonymous_id_an_empty_user_id_also_carries_is_still_the_persons(
    tmp_path: Path,
) -> None:
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'or.db'}"))
    with database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE sessions (session_id INTEGER PRIMARY KEY, project_id INTEGER,"
                " user_id TEXT, user_anonymous_id TEXT)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sessions VALUES (1, 7, 'alice', 'anon-a'), (2, 7, '', 'anon-a'),"
                " (3, 7, NULL, 'anon-a'), (4, 7, 'alice', 'anon-s'), (5, 7, 'bob', 'anon-s')"
            )
        )
    identities = PersonIdentities(SESSIONS, database)
    assert identities.anonymous_ids(7, "alice") == ["anon-a"]  # anon-s is bob's too
    database.dispose()


def test_a_session_with_an_empty_user_id_on_the_persons_device_is_followed(
    tmp_path: Path,
) -> None:
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'or.db'}"))
    with database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE sessions (session_id INTEGER PRIMARY KEY, project_id INTEGER,"
                " user_id TEXT, user_uuid TEXT)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sessions VALUES (1, 7, 'alice', 'laptop'), (2, 7, '', 'laptop'),"
                " (3, 7, NULL, 'laptop'), (4, 7, 'alice', 'tablet'), (5, 7, 'bob', 'tablet'),"
                " (6, 7, '', 'tablet'), (7, 8, '', 'laptop')"
            )
        )
    config = msgspec.structs.replace(SESSIONS, device_column="user_uuid", follow_device=True)
    target = SqlTarget(config, database)
    assert target.remaining(7, "alice") == {"sessions": 4}
    target.delete_batch(7, "alice", 10)
    with database.reader() as conn:
        left = conn.execute(text("SELECT session_id FROM sessions ORDER BY 1")).scalars().all()
    assert left == [5, 6, 7]  # bob's tablet's, and another project's
    database.dispose()

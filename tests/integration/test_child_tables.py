"""A child table without a cascade, named by `sessions_from`: its rows of the user's
sessions go with them, first and in the same transaction, counted; nobody else's."""

from pathlib import Path

import pytest
from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.session_store import seed_sessions
from infrastructure.target_config import ConfigError, SqlTargetConfig, TargetsConfig, load_config
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.integration.test_deletion_targets import write
from tests.integration.test_s3_target import session_ids
from tests.runner_support import RunnerKit, runner_kit


def with_child_table(services: Services) -> None:
    key = "BIGINT" if services.database.backend == "postgresql" else "INTEGER"
    with services.database.writer() as conn:
        # A foreign key WITHOUT a cascade: the parent's rows cannot go before these.
        conn.execute(
            text(
                f"CREATE TABLE session_events (session_id {key} NOT NULL "
                "REFERENCES sessions (session_id), n INTEGER NOT NULL)"
            )
        )


def add_events(kit: RunnerKit, user: str, per_session: int) -> None:
    with kit.services.database.writer() as conn:
        for session_id in session_ids(kit, user):
            for n in range(per_session):
                conn.execute(
                    text("INSERT INTO session_events VALUES (:s, :n)"), {"s": session_id, "n": n}
                )


def events_left(kit: RunnerKit) -> int:
    with kit.services.database.reader() as conn:
        return int(conn.execute(text("SELECT count(*) FROM session_events")).scalar_one())


CONFIG = TargetsConfig(
    batch_size=7,
    targets=[
        SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
        SqlTargetConfig(name="session_events", table="session_events", sessions_from="sessions"),
    ],
)


@pytest.fixture
def kit(services: Services, tmp_path: Path) -> RunnerKit:
    with_child_table(services)
    return runner_kit(services, tmp_path)


def test_child_rows_go_first_with_their_sessions_and_are_counted(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["alice", "bob"], 30, None)
    add_events(kit, "alice", 2)
    add_events(kit, "bob", 3)
    targets = build_targets(CONFIG, kit.services.database)
    check_targets(targets)

    job_id = kit.schedule("alice")
    kit.worker(kit.runner(batch_size=7, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(1, job_id) == {"sessions": 30, "session_events": 60}
    assert kit.session_count("alice") == 0 and kit.session_count("bob") == 30
    assert events_left(kit) == 90


def test_a_child_table_needs_a_unique_parent_key_and_its_parents_database(
    kit: RunnerKit, tmp_path: Path
) -> None:
    by_user = TargetsConfig(
        targets=[
            SqlTargetConfig(name="sessions", table="sessions", id_column="user_id"),
            SqlTargetConfig(name="events", table="session_events", sessions_from="sessions"),
        ]
    )
    with pytest.raises(ConfigError, match="need 'user_id' to be unique"):
        check_targets(build_targets(by_user, kit.services.database))
    elsewhere = write(
        tmp_path,
        '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "sessions"\n'
        '[[targets]]\nkind = "sql"\nname = "events"\ntable = "t"\n'
        'url = "sqlite:///other.db"\nsessions_from = "sessions"\n',
    )
    with pytest.raises(ConfigError, match="must be in its parent's database"):
        load_config(elsewhere)

"""A files target names a session's recording by the session's key alone. Where that
key is not unique, two people's rows can carry one session (alice logged out, bob
logged in: a row for each), and the recording it names is bob's as much as alice's:
a job for alice must not take it. Such a target is refused before any job, as a
child table of a key that is not unique is.

The installation is on the backend of jobtrail's own database, which runs on both.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.composition import Services
from infrastructure.target_config import (
    ConfigError,
    FilesTargetConfig,
    SqlTargetConfig,
    TargetsConfig,
)
from infrastructure.targets import build_targets, check_targets
from tests.runner_support import RunnerKit
from tests.sql_installation import Installation, installed

PROJECT = 1
ROWS = "SELECT session_id, user_id FROM session_users"


@pytest.fixture
def installation(services: Services, tmp_path: Path) -> Iterator[Installation]:
    with installed(services.database.backend, tmp_path) as made:
        made.execute(
            "CREATE TABLE session_users (session_id BIGINT NOT NULL, project_id INTEGER "
            "NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (session_id, user_id))"
        )
        # Session 7 went from alice to bob; session 8 is alice's alone.
        made.execute(
            "INSERT INTO session_users VALUES (:s, :p, :u)",
            [
                {"s": 7, "p": PROJECT, "u": "alice"},
                {"s": 7, "p": PROJECT, "u": "bob"},
                {"s": 8, "p": PROJECT, "u": "alice"},
            ],
        )
        yield made


def test_a_recording_named_by_a_session_key_two_peoples_rows_share_is_never_taken(
    kit: RunnerKit, installation: Installation, tmp_path: Path
) -> None:
    recordings = tmp_path / "mobs"
    for session in (7, 8):
        (recordings / str(PROJECT)).mkdir(parents=True, exist_ok=True)
        (recordings / str(PROJECT) / str(session)).write_text("mob")
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(
                name="session_users",
                table="session_users",
                url=installation.url,
                id_column="session_id",
            ),
            FilesTargetConfig(
                name="mobs",
                directory=str(recordings),
                pattern="{projectId}/{sessionId}",
                sessions_from="session_users",
            ),
        ]
    )
    targets = build_targets(config, kit.services.database)
    refusal: str | None = None
    try:
        check_targets(targets)
    except ConfigError as refused:
        refusal = str(refused)
    else:
        kit.schedule("alice", PROJECT)
        kit.worker(kit.runner(targets=[*targets])).run_due_jobs()

    assert (recordings / str(PROJECT) / "7").exists(), "bob's recording of session 7 went"
    assert installation.rows({"rows": ROWS})["rows"] == {(7, "alice"), (7, "bob"), (8, "alice")}
    assert refusal == (
        "Target session_users: files or objects named by a session (mobs) need "
        "'session_id' to be unique (its primary key, or a unique index)."
    )

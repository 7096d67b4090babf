"""Two files targets in one directory, or one's directory inside the other's: like
s3 targets sharing a bucket, a path one names for a person must never be a path
the other reads as someone else's, or one person's job deletes another's files."""

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from infrastructure.database import Database, parse_database_url
from infrastructure.target_config import ConfigError, load_config
from infrastructure.targets import build_targets
from tests.integration.test_deletion_targets import write

SESSIONS = '[[targets]]\nkind = "sql"\nname = "usess"\ntable = "usess"\nid_column = "session_id"\n'


def files_target(name: str, directory: str, pattern: str, sessions: bool = False) -> str:
    return (
        f'[[targets]]\nkind = "files"\nname = "{name}"\ndirectory = "{directory}"\n'
        f'pattern = "{pattern}"\n' + ('sessions_from = "usess"\n' if sessions else "")
    )


def sessions_database(tmp_path: Path) -> Database:
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    with database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE usess"
                " (session_id INTEGER PRIMARY KEY, project_id INTEGER, user_id TEXT)"
            )
        )
        conn.execute(text("INSERT INTO usess VALUES (1, 1, 'alice')"))
    return database


def test_a_session_folder_that_is_every_users_exports_of_a_project_is_refused(
    tmp_path: Path,
) -> None:
    # Alice's session 1 is the folder data/1: project 1's exports, of every user.
    (tmp_path / "data" / "1" / "bob").mkdir(parents=True)
    (tmp_path / "data" / "1" / "bob" / "export.json").write_text("bob's")
    toml = write(
        tmp_path,
        SESSIONS
        + files_target("recordings", "data", "{sessionId}", sessions=True)
        + files_target("exports", "data", "{projectId}/{userId}"),
    )
    try:
        config = load_config(toml)
    except ConfigError as refused:
        assert re.fullmatch(
            r"Targets recordings and exports share directory .*data: '\{sessionId\}' and "
            r"'\{projectId\}/\{userId\}' can name one file for two people\.",
            str(refused),
        )
        return
    targets = build_targets(config, sessions_database(tmp_path))
    receipt: dict[str, int] = {}
    while counts := {k: v for t in targets for k, v in t.delete_batch(1, "alice", 10).items()}:
        if not any(counts.values()):
            break
        receipt = {k: receipt.get(k, 0) + v for k, v in counts.items()}
    assert (tmp_path / "data" / "1" / "bob" / "export.json").exists(), (
        f"alice's job took bob's export as her recording of session 1: {receipt}"
    )
    pytest.fail("two files targets that name one file for two people were accepted")


def test_a_directory_inside_another_targets_directory_is_read_through_its_patterns(
    tmp_path: Path,
) -> None:
    # exports live in data/1/bob, which is user bob's folder of project 1 in data:
    # bob's job would take every user's exports.
    toml = write(
        tmp_path,
        files_target("avatars", "data", "{projectId}/{userId}")
        + files_target("exports", "data/1/bob", "{projectId}/{userId}"),
    )
    with pytest.raises(
        ConfigError,
        match=r"^Targets avatars and exports share directory .*data: '\{projectId\}/\{userId\}' "
        r"and '1/bob/\{projectId\}/\{userId\}' can name one file for two people\.$",
    ):
        load_config(toml)
    # Either way round in the file.
    toml = write(
        tmp_path,
        files_target("exports", "data/1/bob", "{projectId}/{userId}")
        + files_target("avatars", "data", "{projectId}/{userId}"),
    )
    with pytest.raises(ConfigError, match=r"^Targets exports and avatars share directory"):
        load_config(toml)


def test_a_directory_reached_through_a_link_is_the_directory_it_names(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "also-data").symlink_to(tmp_path / "data")
    toml = write(
        tmp_path,
        SESSIONS
        + files_target("recordings", "data", "{sessionId}", sessions=True)
        + files_target("exports", "also-data", "{projectId}/{userId}"),
    )
    with pytest.raises(ConfigError, match=r"^Targets recordings and exports share directory"):
        load_config(toml)


def test_files_targets_whose_paths_stay_apart_are_accepted(tmp_path: Path) -> None:
    apart = [
        files_target("recordings", "data", "rec/{projectId}/{sessionId}", sessions=True)
        + files_target("exports", "data", "exp/{projectId}/{userId}"),
        files_target("recordings", "rec", "{sessionId}", sessions=True)
        + files_target("exports", "exp", "{projectId}/{userId}"),
        # Directories whose names start alike are not inside one another.
        files_target("recordings", "data", "{sessionId}", sessions=True)
        + files_target("exports", "data2", "{projectId}/{userId}"),
        # One person's files inside the other pattern's: still that one person's.
        files_target("exports", "data", "{projectId}/{userId}")
        + files_target("archive", "data", "{projectId}/{userId}/archive"),
        files_target("exports", "data", "{projectId}/{userId}")
        + files_target("inner", "data/exp", "{projectId}/{userId}"),
    ]
    for targets in apart:
        load_config(str(write(tmp_path, SESSIONS + targets)))

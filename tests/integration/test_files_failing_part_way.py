"""A file that cannot be removed part way through a batch: the files removed before
it are gone for good, so the batch's failure must still count them (BatchInterrupted),
for a user's folder and for a session's, within one step and between steps."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import infrastructure.file_targets as file_targets
from application.ports import BatchInterrupted, DeletionTarget
from infrastructure.database import Database, parse_database_url
from infrastructure.target_config import FilesTargetConfig, SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets


def database(tmp_path: Path) -> Database:
    built = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    with built.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE usess"
                " (session_id INTEGER PRIMARY KEY, project_id INTEGER, user_id TEXT)"
            )
        )
        conn.execute(text("INSERT INTO usess VALUES (7, 1, 'alice')"))
    return built


def third_unlink_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    unlink = os.unlink
    calls = 0

    def refusing(path: str, *, dir_fd: int | None = None) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise PermissionError(errno.EACCES, "Permission denied")
        unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", refusing)


def user_folders(root: Path, tmp_path: Path) -> DeletionTarget:
    """A files target of users' folders, ``{projectId}/{userId}`` under ``root``."""
    config = TargetsConfig(
        targets=[
            FilesTargetConfig(name="exports", directory=str(root), pattern="{projectId}/{userId}")
        ]
    )
    [target] = build_targets(config, database(tmp_path))
    return target


def counted_batch(target: DeletionTarget, limit: int, *names: str) -> dict[str, int]:
    """What one batch of alice's counted: all it says, what an interruption says, or 0
    for each of ``names`` when it failed without counting."""
    try:
        return target.delete_batch(1, "alice", limit)
    except BatchInterrupted as interrupted:
        return interrupted.deleted
    except (OSError, RecursionError) as error:
        print(f"failed, nothing counted: {error!r}")
        return dict.fromkeys(names, 0)


def test_a_user_folder_failing_part_way_counts_the_files_that_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "exports"
    (root / "1" / "alice").mkdir(parents=True)
    for n in range(4):
        (root / "1" / "alice" / f"f{n}").write_text("alice")
    target = user_folders(root, tmp_path)
    third_unlink_refused(monkeypatch)
    counted = counted_batch(target, 10, "exports")
    monkeypatch.undo()
    gone = 4 - len(list((root / "1" / "alice").iterdir()))
    assert counted == {"exports": gone} == {"exports": 2}, "files went uncounted"


@pytest.mark.parametrize("step", [10_000, 2])
def test_a_session_folder_failing_part_way_counts_the_files_that_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    monkeypatch.setattr(file_targets, "_SESSION_STEP", step)
    root = tmp_path / "rec"
    (root / "1" / "7").mkdir(parents=True)
    for n in range(4):
        (root / "1" / "7" / f"chunk{n}").write_text("7")
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(name="usess", table="usess", id_column="session_id"),
            FilesTargetConfig(
                name="rec",
                directory=str(root),
                pattern="{projectId}/{sessionId}",
                sessions_from="usess",
            ),
        ]
    )
    [target] = build_targets(config, database(tmp_path))
    third_unlink_refused(monkeypatch)
    counted = counted_batch(target, 10, "usess", "rec")
    monkeypatch.undo()
    gone = 4 - len(list((root / "1" / "7").iterdir()))
    assert counted == {"usess": 0, "rec": gone} == {"usess": 0, "rec": 2}, "files went uncounted"


def test_a_folder_nested_too_deep_to_walk_fails_the_batch_with_the_files_that_went_counted(
    tmp_path: Path,
) -> None:
    root = tmp_path / "exports"
    levels = [root / "1" / "alice"]
    for _ in range(sys.getrecursionlimit()):  # deeper than the walk can recurse
        levels.append(levels[-1] / "d")
    for n, level in enumerate(levels):  # names apart: some come before "d" in a listing
        level.mkdir(parents=n == 0)
        (level / f"f{n}").write_text("alice")
    target = user_folders(root, tmp_path)
    counted = counted_batch(target, 10_000, "exports")
    left = 0
    for level in reversed(levels):  # bottom up: a recursive cleanup would fail as well
        if level.exists():
            left += sum(1 for entry in level.iterdir() if entry.is_file())
            for entry in level.iterdir():
                if entry.is_file():
                    entry.unlink()
                else:
                    entry.rmdir()
    gone = len(levels) - left
    assert gone > 0
    assert counted == {"exports": gone}, "files went uncounted"


def test_a_user_folder_that_cannot_go_once_emptied_fails_the_batch_instead_of_staying_unseen(
    tmp_path: Path,
) -> None:
    root = tmp_path / "exports"
    folder = root / "1" / "alice@example.com"  # the folder's name is the person's id
    folder.mkdir(parents=True)
    (folder / "export.json").write_text("alice")
    target = user_folders(root, tmp_path)
    # The project's folder refuses to lose an entry: its files go, it cannot.
    if subprocess.run(["chattr", "+i", str(root / "1")], check=False).returncode != 0:
        pytest.skip("this file system cannot make a folder immutable")
    counted = 0
    failure: Exception | None = None
    try:
        while step := target.delete_batch(1, "alice@example.com", 10)["exports"]:
            counted += step
        assert target.remaining(1, "alice@example.com") == {"exports": 0}
    except BatchInterrupted as interrupted:
        counted += interrupted.deleted["exports"]
        failure = interrupted.cause
    finally:
        subprocess.run(["chattr", "-i", str(root / "1")], check=True)
    assert counted == 1
    assert isinstance(failure, file_targets.TargetFileError), (
        "the job would say completed with the person's folder still there"
    )
    assert folder.exists() and "alice" not in str(failure)

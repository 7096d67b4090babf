"""A session's file that lands while its folder is being emptied (a recorder's last
chunk): the session's row goes with the batch, and with it the only way to find the
file again, so the batch must find it, delete it and count it."""

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from application.ports import BatchInterrupted, TransientTargetError
from infrastructure.database import Database, parse_database_url
from infrastructure.target_config import FilesTargetConfig, SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets


def sessions_database(tmp_path: Path) -> Database:
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    with database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE usess"
                " (session_id INTEGER PRIMARY KEY, project_id INTEGER, user_id TEXT)"
            )
        )
        conn.execute(text("INSERT INTO usess VALUES (7, 1, 'alice'), (8, 1, 'bob')"))
    return database


def test_a_file_landing_in_a_session_folder_as_it_is_emptied_is_deleted_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "rec"
    for session in ("7", "8"):
        (root / "1" / session).mkdir(parents=True)
        for n in range(3):
            (root / "1" / session / f"chunk{n}").write_text(session)
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
    [target] = build_targets(config, sessions_database(tmp_path))
    rmdir = os.rmdir
    landed: list[str] = []

    def last_chunk_lands_first(path: str, *, dir_fd: int | None = None) -> None:
        if path == "7" and not landed:  # the recorder writes its last chunk
            landed.append(path)
            folder = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
            try:
                written = os.open("last", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=folder)
                os.write(written, b"alice's last chunk")
                os.close(written)
            finally:
                os.close(folder)
        rmdir(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "rmdir", last_chunk_lands_first)
    receipt = {"usess": 0, "rec": 0}
    while any((counts := target.delete_batch(1, "alice", 10)).values()):
        receipt = {name: receipt[name] + counts[name] for name in receipt}
    monkeypatch.undo()

    assert landed
    left = target.remaining(1, "alice")
    assert not (root / "1" / "7").exists(), (
        f"alice's last chunk stayed, her session's row gone: remaining says {left}"
    )
    assert receipt == {"usess": 1, "rec": 4}
    assert left == {"usess": 0, "rec": 0}
    assert sorted(p.name for p in (root / "1" / "8").iterdir()) == ["chunk0", "chunk1", "chunk2"]


def test_files_that_keep_landing_fail_the_batch_transiently_with_what_went_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "rec"
    (root / "1" / "7").mkdir(parents=True)
    for n in range(3):
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
    database = sessions_database(tmp_path)
    [target] = build_targets(config, database)
    rmdir = os.rmdir
    landed = 0

    def a_chunk_lands_every_time(path: str, *, dir_fd: int | None = None) -> None:
        nonlocal landed
        if path == "7":
            folder = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
            try:
                os.close(os.open(f"late{landed}", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=folder))
            finally:
                os.close(folder)
            landed += 1
        rmdir(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "rmdir", a_chunk_lands_every_time)
    with pytest.raises(BatchInterrupted) as interrupted:
        target.delete_batch(1, "alice", 10)
    monkeypatch.undo()

    assert isinstance(interrupted.value.cause, TransientTargetError)
    assert interrupted.value.deleted == {"usess": 0, "rec": 5}  # 3 chunks, 2 late ones
    assert landed == 3
    with database.reader() as conn:  # the row stays: the next attempt finds the last one
        assert conn.execute(text("SELECT count(*) FROM usess WHERE session_id = 7")).scalar() == 1
    assert [p.name for p in (root / "1" / "7").iterdir()] == ["late2"]
    assert target.delete_batch(1, "alice", 10) == {"usess": 1, "rec": 1}
    assert not (root / "1" / "7").exists()

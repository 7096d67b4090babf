"""``follow_device`` and a files or s3 target whose pattern names ``{userId}`` as
well as ``{sessionId}``: the device's anonymous sessions carry no user id (or not
the person's), so their files were stored under another path than the one
jobtrail would fill in with the person's id. A job would never find them, neither
deleting nor counting them, and say ``completed`` with them left: such a
configuration is refused when it is loaded."""

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.openreplay_recordings import recordings_target
from infrastructure.openreplay_targets import targets_toml
from infrastructure.target_config import (
    ConfigError,
    FilesTargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    load_config,
)
from infrastructure.targets import build_targets
from tests.conftest import job_now
from tests.integration.test_deletion_targets import write
from tests.runner_support import runner_kit

PROJECT = 1


def sessions_target(follow_device: bool = True) -> str:
    return (
        '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "dev_sessions"\n'
        'id_column = "session_id"\ndevice_column = "user_uuid"\n'
        f"follow_device = {'true' if follow_device else 'false'}\n"
    )


def files_target(pattern: str) -> str:
    return (
        '[[targets]]\nkind = "files"\nname = "recordings"\ndirectory = "rec"\n'
        f'pattern = "{pattern}"\nsessions_from = "sessions"\n'
    )


def s3_target(names: str) -> str:
    return (
        '[[targets]]\nkind = "s3"\nname = "mobs"\nbucket = "mobs"\n'
        f'{names}\nsessions_from = "sessions"\n'
    )


def test_a_job_never_completes_leaving_the_device_sessions_files(
    services: Services, tmp_path: Path
) -> None:
    with services.database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE dev_sessions (session_id INTEGER PRIMARY KEY,"
                " project_id INTEGER, user_id TEXT, user_uuid TEXT)"
            )
        )
        # Her own session 1, and session 2 on her laptop before she logged in.
        conn.execute(
            text(
                "INSERT INTO dev_sessions VALUES (1, 1, 'alice', 'laptop'), (2, 1, NULL, 'laptop')"
            )
        )
    # Where a recorder using the pattern put them: session 2 knew no user id.
    own = tmp_path / "rec" / "1" / "alice" / "1" / "dom.mob"
    anonymous = tmp_path / "rec" / "1" / "-" / "2" / "dom.mob"
    for path in (own, anonymous):
        path.parent.mkdir(parents=True)
        path.write_text("recording")
    toml = write(tmp_path, sessions_target() + files_target("{projectId}/{userId}/{sessionId}"))
    try:
        config = load_config(toml)
    except ConfigError as refused:
        assert re.fullmatch(
            r"Targets sessions and recordings: sessions follows devices \(follow_device\), "
            r"and the pattern '\{projectId\}/\{userId\}/\{sessionId\}' of recordings names "
            r"\{userId\}: .*",
            str(refused),
        ), str(refused)
        assert own.exists() and anonymous.exists()  # refused: nothing changed
        return
    kit = runner_kit(services, tmp_path)
    job_id = kit.schedule("alice", PROJECT)
    kit.worker(kit.runner(targets=build_targets(config, services.database))).run_due_jobs()
    status = job_now(kit.services, PROJECT, job_id).status
    with services.database.reader() as conn:
        rows = conn.execute(text("SELECT session_id FROM dev_sessions")).scalars().all()
    assert not (status == JobStatus.COMPLETED and anonymous.exists()), (
        f"alice's job {status} with the anonymous session's recording left "
        f"(own recording left: {own.exists()}, session rows left: {rows})"
    )


@pytest.mark.parametrize(
    ("target", "named"),
    [
        (files_target("{projectId}/{userId}/{sessionId}"), "pattern .* of recordings"),
        (files_target("{sessionId}/{userId}"), "pattern .* of recordings"),
        (s3_target('prefix = "{projectId}/{userId}/{sessionId}/"'), "prefix .* of mobs"),
        (s3_target('prefix = "{sessionId}/"\nkeys = ["{userId}/{sessionId}"]'), "key .* of mobs"),
    ],
    ids=["files", "files, user last", "s3 prefix", "s3 exact key"],
)
def test_a_user_id_in_the_names_of_followed_sessions_is_refused(
    tmp_path: Path, target: str, named: str
) -> None:
    with pytest.raises(
        ConfigError, match=f"^Targets sessions and [a-z]+: .*{named} names {{userId}}"
    ):
        load_config(write(tmp_path, sessions_target() + target))


@pytest.mark.parametrize(
    ("follow_device", "target"),
    [
        (False, files_target("{projectId}/{userId}/{sessionId}")),  # only her own sessions
        (True, files_target("{projectId}/{sessionId}")),  # a session's files by its id alone
        (True, s3_target('prefix = "{sessionId}/"\nkeys = ["{sessionId}", "{sessionId}e"]')),
    ],
    ids=["not following", "files by session", "s3 by session"],
)
def test_the_sessions_files_named_without_a_user_id_are_accepted(
    tmp_path: Path, follow_device: bool, target: str
) -> None:
    (tmp_path / "rec").mkdir()
    load_config(write(tmp_path, sessions_target(follow_device) + target))


def test_the_imported_openreplay_recordings_can_follow_devices(tmp_path: Path) -> None:
    # What `jobtrail openreplay import` writes, with follow_device turned on after.
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(
                name="sessions",
                table="sessions",
                id_column="session_id",
                device_column="user_uuid",
                follow_device=True,
            ),
            recordings_target("mobs", None, None, sessions_from="sessions"),
            FilesTargetConfig(
                name="exports", directory=str(tmp_path), pattern="{projectId}/{userId}"
            ),
        ]
    )
    assert load_config(write(tmp_path, targets_toml(config))).targets[1] == config.targets[1]

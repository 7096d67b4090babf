"""`openreplay import` writes a child target for every table that refers to
public.sessions, at any depth and whatever its ON DELETE, read from the
installation's own catalog, not from a list: a table the next OpenReplay version
adds is covered too. The file it writes deletes exactly the person, each table
counted on the receipt. jobtrail's own database runs on both backends."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.openreplay_source import SqlOpenReplaySource
from infrastructure.openreplay_targets import openreplay_targets, targets_toml
from infrastructure.target_config import SqlTargetConfig, TargetsConfig, load_config
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_postgresql import (
    PERSON,
    REFERRING,
    WEB,
    Installation,
    counts_of,
    openreplay_postgresql,
    sessions_of,
    without_sessions,
)
from tests.runner_support import runner_kit


@pytest.fixture
def installation() -> Iterator[Installation]:
    with openreplay_postgresql() as made:
        yield made


def imported(installation: Installation, folder: Path) -> TargetsConfig:
    """The targets file the import writes, read back as jobtrail reads it."""
    source = SqlOpenReplaySource(installation.url)
    try:
        tables = source.session_tables()
    finally:
        source.close()
    config = openreplay_targets(installation.url, "mobs", None, None, session_tables=tables)
    written = folder / "openreplay.toml"
    written.write_text(targets_toml(config))
    return load_config(str(written))


def children(config: TargetsConfig) -> dict[str, SqlTargetConfig]:
    return {t.name: t for t in config.targets if isinstance(t, SqlTargetConfig) and t.sessions_from}


def test_every_table_that_refers_to_the_sessions_gets_a_target_named_after_it(
    installation: Installation, tmp_path: Path
) -> None:
    config = imported(installation, tmp_path)

    found = children(config)
    assert set(found) == set(REFERRING)
    assert {name: child.sessions_from for name, child in found.items()} == {
        **dict.fromkeys(REFERRING, "public.sessions"),
        "public.errors_tags": "events.errors",  # depth 2, by a composite key
        "public.notes_replies": "public.sessions_notes",  # depth 2, by one column
    }
    tags, replies = found["public.errors_tags"], found["public.notes_replies"]
    assert tags.session_column == tags.parent_column == ["session_id", "message_id"]
    assert (replies.session_column, replies.parent_column) == ("note_id", "note_id")
    [sessions] = [t for t in config.targets if t.name == "public.sessions"]
    assert isinstance(sessions, SqlTargetConfig)
    assert sessions.device_column == "user_uuid" and not sessions.follow_device


def test_a_table_the_installation_adds_later_is_found_too(
    installation: Installation, tmp_path: Path
) -> None:
    installation.execute(
        "CREATE TABLE public.session_bookmarks (bookmark_id integer PRIMARY KEY, "
        "session_id bigint REFERENCES public.sessions ON DELETE RESTRICT)"
    )
    assert "public.session_bookmarks" in children(imported(installation, tmp_path))


def test_what_the_import_writes_deletes_exactly_the_person_and_counts_every_table(
    services: Services, installation: Installation, tmp_path: Path
) -> None:
    config = imported(installation, tmp_path)
    sql_only = TargetsConfig(  # the recordings' bucket is another test's
        batch_size=5, targets=[t for t in config.targets if isinstance(t, SqlTargetConfig)]
    )
    targets = build_targets(sql_only, services.database)
    check_targets(targets)
    before = installation.rows_by_session()
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(batch_size=5, targets=targets)).run_due_jobs()

    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    gone = sessions_of(WEB, PERSON)
    assert kit.services.history.receipt(WEB, job_id) == counts_of(before, gone)
    assert installation.rows_by_session() == without_sessions(before, gone)

"""Every table that refers to the sessions, at any depth and whatever its ON DELETE,
goes with the person's sessions, each table counted by its own DELETE; a table
that refers to them uncovered fails `targets check` in one line, naming the fix
(issue 24, findings 3 and 7).

The installation is OpenReplay-shaped (tests/openreplay_postgresql.py), on
PostgreSQL and on SQLite; jobtrail's own database runs on both backends."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.database import Database, parse_database_url
from infrastructure.sql_targets import SqlTarget
from infrastructure.target_config import ConfigError, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_postgresql import (
    MOBILE,
    PERSON,
    REFERRING,
    WEB,
    Installation,
    counts_of,
    installed,
    session_targets,
    sessions_of,
    without_sessions,
)
from tests.runner_support import runner_kit


@pytest.fixture(params=["sqlite", "postgresql"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    with installed(request.param, tmp_path) as made:
        yield made


@pytest.fixture
def database(installation: Installation) -> Iterator[Database]:
    """The installation's database, as a target's url opens it."""
    opened = Database(parse_database_url(installation.url))
    yield opened
    opened.dispose()


def sessions_target(
    installation: Installation, database: Database, follow_device: bool = False
) -> SqlTarget:
    config = TargetsConfig(targets=[*session_targets(installation, follow_device)])
    [target] = build_targets(config, database)
    assert isinstance(target, SqlTarget)
    check_targets([target])
    return target


def test_each_tables_count_is_the_rows_its_delete_took_batch_by_batch(
    installation: Installation, database: Database
) -> None:
    target = sessions_target(installation, database)
    before = installation.rows_by_session()
    assert target.remaining(WEB, PERSON) == counts_of(before, sessions_of(WEB, PERSON))

    rows = before
    while True:
        counts = target.delete_batch(WEB, PERSON, 5)
        after = installation.rows_by_session()
        taken = {name: rows[name].total() - after[name].total() for name in rows}
        assert counts == taken  # cascaded, depth 2 and SET NULL rows included
        if not any(counts.values()):
            break
        rows = after

    gone = sessions_of(WEB, PERSON)
    assert installation.rows_by_session() == without_sessions(before, gone)
    assert not any(target.remaining(WEB, PERSON).values())


def test_a_set_null_child_is_deleted_not_detached(
    installation: Installation, database: Database
) -> None:
    """OpenReplay's ut_tests_signals: ON DELETE SET NULL kept the tester's comment."""
    target = sessions_target(installation, database)
    while any(target.delete_batch(WEB, PERSON, 1000).values()):
        pass
    signals = list(installation.rows_by_session()["public.ut_tests_signals"].elements())
    # (session, signal_id, session_id, status, comment, timestamp)
    assert [row for row in signals if row[0] is None] == [
        (None, 1, None, "skipped", "no session", 1)  # detached before: nobody's
    ]
    alices = {row[0] for row in signals if f"I am {PERSON}" in row[4]}
    assert alices == sessions_of(MOBILE, PERSON)  # her other project's stay


def test_a_job_deletes_every_referring_table_and_its_receipt_names_each_with_its_count(
    services: Services, installation: Installation, tmp_path: Path
) -> None:
    config = TargetsConfig(batch_size=7, targets=[*session_targets(installation)])
    targets = build_targets(config, services.database)
    check_targets(targets)
    before = installation.rows_by_session()
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(batch_size=7, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    gone = sessions_of(WEB, PERSON)
    receipt = kit.services.history.receipt(WEB, job_id)
    assert receipt == counts_of(before, gone)
    assert set(receipt) == {"public.sessions", *REFERRING}
    assert all(receipt.values())
    assert installation.rows_by_session() == without_sessions(before, gone)


@pytest.mark.parametrize(
    ("left_out", "rule", "why"),
    [
        ("public.session_reviews", "NO ACTION", "it would block the delete"),
        ("public.ut_tests_signals", "SET NULL", "its rows would stay, detached"),
        ("events.clicks", "CASCADE", "its rows would go uncounted"),
        ("public.errors_tags", "CASCADE", "its rows would go uncounted"),
    ],
)
def test_a_table_that_refers_to_the_sessions_uncovered_fails_the_check_in_one_line(
    installation: Installation, database: Database, left_out: str, rule: str, why: str
) -> None:
    config = TargetsConfig(targets=[*session_targets(installation, leave_out={left_out})])
    with pytest.raises(ConfigError) as refused:
        check_targets(build_targets(config, database))

    message = str(refused.value)
    assert "\n" not in message
    table = installation.table(left_out)
    assert f"table {'main.' if installation.backend == 'sqlite' else ''}{table} " in message
    assert f"ON DELETE {rule}, and {why}" in message
    parent = "events.errors" if left_out == "public.errors_tags" else "public.sessions"
    assert f'sessions_from = "{parent}"' in message
    if left_out == "public.errors_tags":  # a composite key, named whole
        assert 'session_column = ["session_id", "message_id"]' in message
        assert 'parent_column = ["session_id", "message_id"]' in message
    assert "jobtrail openreplay import again" in message
    assert "SELECT" not in message and "sqlalche" not in message


def test_without_the_check_a_no_action_table_fails_the_batch_by_its_table_not_sql_text(
    installation: Installation, database: Database
) -> None:
    """What the check prevents: the job would fail (rows kept, in one transaction)."""
    config = TargetsConfig(
        targets=[*session_targets(installation, leave_out={"public.session_reviews"})]
    )
    [target] = build_targets(config, database)
    before = installation.rows_by_session()
    with pytest.raises(Exception) as failed:
        target.delete_batch(WEB, PERSON, 1000)
    assert "public.sessions: table" in str(failed.value)
    assert "SELECT" not in str(failed.value) and "DELETE" not in str(failed.value)
    assert installation.rows_by_session() == before

"""Hostile review of the ClickHouse targets: a session some version of which names
someone else is not the person's alone."""

from datetime import timedelta
from uuid import UUID

from domain.lifecycle import JobStatus
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.target_config import TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_clickhouse import SESSION_COLUMNS, T0, clickhouse_url, fresh_installation
from tests.runner_support import RunnerKit


def run_job(kit: RunnerKit, user_id: str) -> int:
    targets = build_targets(
        TargetsConfig(5, list(openreplay_clickhouse_targets(clickhouse_url()))),
        kit.services.database,
    )
    check_targets(targets)
    job_id = kit.schedule(user_id, 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()
    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    return job_id


def test_events_of_a_session_whose_newest_version_is_someone_elses_stay(kit: RunnerKit) -> None:
    """Session 9002 was first written naming zed, then (a minute later, zed logged out
    and bob logged in on the same tab) naming bob: OpenReplay reads it (FINAL) as bob's,
    and PostgreSQL's one row of it says bob. A job for zed deletes zed's version of the
    session row and leaves bob's (the rule of ADR 33), but it deleted every event of
    the session, bob's clicks included: data of someone else."""
    ch = fresh_installation()
    for user, written in [("zed", T0), ("bob", T0 + timedelta(minutes=1))]:
        ch.insert(
            "experimental.sessions",
            [[9002, 1, UUID(int=9002), user, "anon-9002", "Firefox", T0, 10, "", written]],
            column_names=[*SESSION_COLUMNS, "_timestamp"],
        )
    ch.insert(
        "experimental.events",
        [[9002, 1, "CLICK", T0 + timedelta(seconds=s), "bob's click", "{}", s] for s in range(3)],
        column_names=[
            "session_id",
            "project_id",
            "event_type",
            "datetime",
            "label",
            "payload",
            "message_id",
        ],
    )
    final = "SELECT user_id FROM experimental.sessions FINAL WHERE session_id = 9002"
    assert ch.query(final).result_rows == [("bob",)]

    run_job(kit, "zed")

    events = "SELECT count() FROM experimental.events WHERE session_id = 9002"
    assert ch.query(events).result_rows == [(3,)]  # bob's session's events: his
    assert ch.query(final).result_rows == [("bob",)]


def test_events_of_her_session_whose_newest_version_names_nobody_go(kit: RunnerKit) -> None:
    """The guard beside it: a session whose older version names zed and whose newest
    names nobody (no user id sent again) is still zed's alone: its events go."""
    ch = fresh_installation()
    for user, written in [("zed", T0), (None, T0 + timedelta(minutes=1))]:
        ch.insert(
            "experimental.sessions",
            [[9003, 1, UUID(int=9003), user, "anon-9003", "Firefox", T0, 10, "", written]],
            column_names=[*SESSION_COLUMNS, "_timestamp"],
        )
    ch.insert(
        "experimental.events",
        [[9003, 1, "CLICK", T0 + timedelta(seconds=s), "zed's click", "{}", s] for s in range(3)],
        column_names=[
            "session_id",
            "project_id",
            "event_type",
            "datetime",
            "label",
            "payload",
            "message_id",
        ],
    )

    run_job(kit, "zed")

    events = "SELECT count() FROM experimental.events WHERE session_id = 9003"
    assert ch.query(events).result_rows == [(0,)]


def test_a_row_of_hers_without_a_session_does_not_strand_her_sessions_events(
    kit: RunnerKit,
) -> None:
    """A sessions table whose session column may be NULL (any ClickHouse table can be a
    target): a batch of one session found only her row without a session, so it took
    the batch for "no session of hers left" and deleted every row of hers by user id,
    her real session's row with it, before its events: those stayed, found by nothing
    (remaining() finds events through the sessions), and the job said completed."""
    ch = fresh_installation()
    ch.command(
        "CREATE TABLE experimental.visits (seq UInt8, session_id Nullable(UInt64), "
        "project_id UInt16, user_id String) ENGINE = MergeTree ORDER BY (project_id, seq)"
    )
    ch.command(
        "CREATE TABLE experimental.clicks (session_id UInt64, project_id UInt16, label String) "
        "ENGINE = MergeTree ORDER BY project_id"
    )
    # One part, in this order: the row without a session is read first.
    ch.insert(
        "experimental.visits",
        [[0, None, 1, "zed"], [1, 77, 1, "zed"]],
        column_names=["seq", "session_id", "project_id", "user_id"],
    )
    ch.insert(
        "experimental.clicks",
        [[77, 1, "zed's click"]],
        column_names=["session_id", "project_id", "label"],
    )
    from infrastructure.clickhouse_config import ClickHouseTargetConfig

    url = clickhouse_url()
    config = TargetsConfig(
        1,
        [
            ClickHouseTargetConfig(
                name="visits", url=url, table="experimental.visits", user_id_column="user_id"
            ),
            ClickHouseTargetConfig(
                name="clicks", url=url, table="experimental.clicks", sessions_from="visits"
            ),
        ],
    )
    targets = build_targets(config, kit.services.database)
    check_targets(targets)
    job_id = kit.schedule("zed", 1)
    kit.worker(kit.runner(batch_size=1, targets=[*targets])).run_due_jobs()

    assert ch.query("SELECT count() FROM experimental.clicks").result_rows == [(0,)]
    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED

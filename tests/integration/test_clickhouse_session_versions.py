"""ClickHouse's sessions table is a ReplacingMergeTree: a session is its latest row,
and older rows of it wait in their parts for a merge. A job deletes every version of
the person's sessions, not only the rows that name her."""

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.target_config import TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_clickhouse import SESSION_COLUMNS, T0, clickhouse_url, fresh_installation
from tests.runner_support import RunnerKit, runner_kit

HER_SESSION = (
    "SELECT user_id, user_anonymous_id FROM experimental.sessions FINAL "
    "WHERE project_id = 1 AND session_id = 9001"
)


@pytest.fixture
def kit(services: Services, tmp_path: Path) -> RunnerKit:
    return runner_kit(services, tmp_path)


def test_an_older_version_of_her_session_does_not_come_back_after_the_job(
    kit: RunnerKit,
) -> None:
    """Her session's first row was written before she logged in (no user id yet), the
    second names her; two inserts, two parts, not merged. Deleting only the row that
    names her would leave the older one to become the session again, whole: her
    device, her anonymous id, her metadata, as OpenReplay reads it (FINAL), while the
    job's check, asking by user id, finds nothing."""
    ch = fresh_installation()
    device = UUID("dd000000-0000-4000-8000-00000000000d")
    for user, written in [(None, T0), ("zed", T0 + timedelta(minutes=1))]:
        ch.insert(
            "experimental.sessions",
            [[9001, 1, device, user, "anon-zed", "Firefox", T0, 10, "seat of zed", written]],
            column_names=[*SESSION_COLUMNS, "_timestamp"],
        )
    assert ch.query(HER_SESSION).result_rows == [("zed", "anon-zed")]
    targets = build_targets(
        TargetsConfig(5, list(openreplay_clickhouse_targets(clickhouse_url()))),
        kit.services.database,
    )
    check_targets(targets)

    job_id = kit.schedule("zed", 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert ch.query(HER_SESSION).result_rows == []
    job = kit.services.log.job(job_id)
    assert job is not None and job.deleted["experimental.sessions"] == 2  # both versions


def test_a_newer_version_naming_someone_else_stays_theirs(kit: RunnerKit) -> None:
    """A session whose older row names her and whose newest names bob is bob's: the job
    deletes her row of it, and leaves his."""
    ch = fresh_installation()
    device = UUID("dd000000-0000-4000-8000-00000000000e")
    for user, written in [("zed", T0), ("bob", T0 + timedelta(minutes=1))]:
        ch.insert(
            "experimental.sessions",
            [[9002, 1, device, user, "anon-9002", "Firefox", T0, 10, "a shared seat", written]],
            column_names=[*SESSION_COLUMNS, "_timestamp"],
        )
    targets = build_targets(
        TargetsConfig(5, list(openreplay_clickhouse_targets(clickhouse_url()))),
        kit.services.database,
    )
    check_targets(targets)

    job_id = kit.schedule("zed", 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    every_version = "SELECT user_id FROM experimental.sessions WHERE session_id = 9002"
    assert ch.query(every_version).result_rows == [("bob",)]

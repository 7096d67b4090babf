"""ClickHouse's sessions table is a ReplacingMergeTree: a session is its latest row,
and older rows of it wait in their parts for a merge. A job deletes every version of
the person's sessions, not only the rows that name her."""

from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from domain.lifecycle import JobStatus
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.target_config import TargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_clickhouse import SESSION_COLUMNS, T0, clickhouse_url, fresh_installation
from tests.runner_support import RunnerKit

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

HER_SESSION = (
    "SELECT user_id, user_anonymous_id FROM experimental.sessions FINAL "
    "WHERE project_id = 1 AND session_id = 9001"
)


def a_session_in_two_parts(session_id: int, first: str | None, then: str) -> "Client":
    """One session written twice (two inserts: two parts, not merged yet), the second a
    minute later: the first naming ``first`` (None: nobody yet), the second ``then``."""
    ch = fresh_installation()
    device = UUID(int=session_id)
    for user, written in [(first, T0), (then, T0 + timedelta(minutes=1))]:
        ch.insert(
            "experimental.sessions",
            [[session_id, 1, device, user, f"anon-{session_id}", "Firefox", T0, 10, "", written]],
            column_names=[*SESSION_COLUMNS, "_timestamp"],
        )
    return ch


def deleted_by_a_job(kit: RunnerKit, user_id: str, only: str | None = None) -> int:
    """Runs a job for the user over OpenReplay's ClickHouse targets (``only``: that one
    target, configured without the tables that refer to its sessions); its id."""
    configs: list[TargetConfig] = list(openreplay_clickhouse_targets(clickhouse_url()))
    if only is not None:
        configs = [config for config in configs if config.name == only]
    targets = build_targets(TargetsConfig(5, configs), kit.services.database)
    check_targets(targets)
    job_id = kit.schedule(user_id, 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()
    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    return job_id


def test_an_older_version_of_her_session_does_not_come_back_after_the_job(
    kit: RunnerKit,
) -> None:
    """Her session's first row was written before she logged in (no user id yet), the
    second names her; two inserts, two parts, not merged. Deleting only the row that
    names her would leave the older one to become the session again, whole: her
    device, her anonymous id, her metadata, as OpenReplay reads it (FINAL), while the
    job's check, asking by user id, finds nothing."""
    ch = a_session_in_two_parts(9001, None, "zed")
    assert ch.query(HER_SESSION).result_rows == [("zed", "anon-9001")]

    job_id = deleted_by_a_job(kit, "zed")

    assert ch.query(HER_SESSION).result_rows == []
    job = kit.services.log.job(job_id)
    assert job is not None and job.deleted["experimental.sessions"] == 2  # both versions


def test_a_newer_version_naming_someone_else_stays_theirs(kit: RunnerKit) -> None:
    """A session whose older row names her and whose newest names bob is bob's: the job
    deletes her row of it, and leaves his."""
    ch = a_session_in_two_parts(9002, "zed", "bob")

    deleted_by_a_job(kit, "zed")

    every_version = "SELECT user_id FROM experimental.sessions WHERE session_id = 9002"
    assert ch.query(every_version).result_rows == [("bob",)]


def test_an_older_version_of_her_session_goes_also_from_a_sessions_table_alone(
    kit: RunnerKit,
) -> None:
    """The same session, with the sessions table configured on its own (no table that
    refers to its sessions): its rows go by session there too, every version naming
    her or nobody, not only the rows that name her."""
    ch = a_session_in_two_parts(9003, None, "zed")
    a_session_of = "SELECT user_id FROM experimental.sessions FINAL WHERE session_id = {}"
    ch.insert(
        "experimental.sessions",
        [[9004, 1, UUID(int=9004), None, "anon-9004", "Firefox", T0, 10, "", T0]],
        column_names=[*SESSION_COLUMNS, "_timestamp"],
    )  # somebody's session before they log in: nobody's, and not hers

    job_id = deleted_by_a_job(kit, "zed", only="experimental.sessions")

    assert ch.query(a_session_of.format(9003)).result_rows == []
    assert ch.query(a_session_of.format(9004)).result_rows == [(None,)]
    job = kit.services.log.job(job_id)
    assert job is not None and job.deleted["experimental.sessions"] == 2  # both versions

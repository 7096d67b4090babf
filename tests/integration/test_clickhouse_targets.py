"""ClickHouse targets on ClickHouse's real engine (chdb, in process, through
clickhouse-connect), run by the real runner on both of jobtrail's backends: one
person's rows go from every table that holds them, counted table by table, and not
a row of anyone else's."""

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from domain.lifecycle import JobStatus
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.database import Database, parse_database_url
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.target_config import ConfigError, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_clickhouse import (
    PERSON,
    clickhouse_url,
    fresh_installation,
    load,
    rows_of,
)
from tests.runner_support import RunnerKit

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


@pytest.fixture
def installation() -> "Client":
    ch = fresh_installation()
    load(ch)
    return ch


def imported(batch_size: int = 5) -> TargetsConfig:
    """What `openreplay import --clickhouse` writes for this installation."""
    return TargetsConfig(batch_size, [*openreplay_clickhouse_targets(clickhouse_url())])


def run_job(kit: RunnerKit, user: str = "alice", project_id: int = 1) -> int:
    targets = build_targets(imported(), kit.services.database)
    check_targets(targets)
    job_id = kit.schedule(user, project_id)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()
    return job_id


def count(ch: "Client", table: str, where: str) -> int:
    return int(ch.query(f"SELECT count() FROM {table} WHERE {where}").result_rows[0][0])


def test_a_job_deletes_one_persons_rows_from_every_table_and_counts_each(
    kit: RunnerKit, installation: "Client"
) -> None:
    ch = installation
    theirs = {table: count(ch, table, where) for table, where in PERSON.items()}
    others = {
        table: rows_of(ch, table, f"NOT coalesce(({where}), 0)") for table, where in PERSON.items()
    }

    job_id = run_job(kit)

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(1, job_id) == theirs
    assert theirs["experimental.sessions"] == 12 and theirs["experimental.events"] == 36
    assert theirs["product_analytics.events"] == 14  # 12 of her sessions, 2 sent by a backend
    assert {table: rows_of(ch, table) for table in PERSON} == others
    targets = build_targets(imported(), kit.services.database)
    assert all(count == 0 for t in targets for count in t.remaining(1, "alice").values())


def test_what_only_looks_like_hers_stays(kit: RunnerKit, installation: "Client") -> None:
    run_job(kit)
    values = installation.query(
        "SELECT project_id, type, value FROM experimental.autocomplete"
    ).result_rows
    assert (1, "USERANONYMOUSID", "anon-shared") in values  # bob's browser too
    assert (1, "USERANONYMOUSID", "alice") in values  # carol's anonymous id
    assert (1, "CLICK", "alice") in values  # a button's label
    assert (2, "USERID", "alice") in values  # the same user id in another project
    assert count(installation, "experimental.sessions", "user_id IS NULL") == 1  # before login
    assert count(installation, "product_analytics.users", "`$user_id` = 'alice'") == 1


def test_no_statement_leaves_the_persons_ids_in_clickhouses_mutation_log(
    kit: RunnerKit, installation: "Client"
) -> None:
    run_job(kit)
    commands = [
        row[0] for row in installation.query("SELECT command FROM system.mutations").result_rows
    ]
    assert commands  # the deletions were mutations, each kept by ClickHouse
    assert not [c for c in commands if "alice" in c or "1001" in c]


def test_a_table_gone_mid_job_fails_it_in_one_line_and_what_went_is_counted(
    kit: RunnerKit, installation: "Client"
) -> None:
    values = {
        table: count(installation, table, PERSON[table])
        for table in ("experimental.autocomplete", "product_analytics.autocomplete_simple")
    }
    targets = build_targets(imported(), kit.services.database)
    check_targets(targets)
    installation.command("DROP TABLE experimental.ios_events SYNC")
    job_id = kit.schedule("alice")
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()

    failed = job_now(kit.services, 1, job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.errors is not None
    [line] = failed.errors.splitlines()
    assert "experimental.ios_events: table experimental.ios_events: ClickHouse error 60 " in line
    assert "(UNKNOWN_TABLE)" in line
    assert not any(word in line for word in ("alice", "SELECT", "session_id", "Exception"))
    receipt = {k: v for k, v in kit.services.history.receipt(1, job_id).items() if v}
    # The batch's events went before the failure: the receipt says so, and it is true.
    left = count(installation, "experimental.events", PERSON["experimental.events"])
    assert receipt == {**values, "experimental.events": 36 - left}
    assert left == 36 - 15


@pytest.fixture
def service_database(tmp_path: Path) -> Database:
    return Database(parse_database_url(f"sqlite:///{tmp_path / 'jobtrail.db'}"))


@pytest.mark.parametrize(
    ("table", "change", "complaint"),
    [
        ("experimental.nope", {}, "table 'experimental.nope' does not exist"),
        ("experimental.sessions", {"user_id_column": "uid"}, "has no column 'uid'"),
        (
            "product_analytics.autocomplete_simple_mv",
            {},
            "is MaterializedView: only a MergeTree-family table",
        ),
        ("experimental.sessions", {"url": "http://127.0.0.1:9/"}, "unreachable at http"),
    ],
)
def test_a_target_that_cannot_work_is_refused_before_any_job_in_one_line(
    installation: "Client",
    service_database: Database,
    table: str,
    change: dict[str, str],
    complaint: str,
) -> None:
    target = ClickHouseTargetConfig(
        name="t", url=clickhouse_url(), table=table, user_id_column="user_id"
    )
    config = TargetsConfig(targets=[msgspec.structs.replace(target, **change)])
    with pytest.raises(ConfigError) as refused:
        check_targets(build_targets(config, service_database))
    [line] = str(refused.value).splitlines()
    assert line.startswith("Target t: ") and complaint in line

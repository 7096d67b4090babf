"""ClickHouse columns of type FixedString(N) holding ids (sessions, devices,
anonymous ids, user ids), on chdb: a value read back from such a column comes as
bytes padded with NULs, and must be matched again as the same value, not as the
text of a bytes object; a user id longer than N is in no row of the column."""

from typing import TYPE_CHECKING

import pytest

from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_targets import ClickHouseServers, ClickHouseTarget, clickhouse_target
from infrastructure.target_config import ConfigError
from tests.openreplay_clickhouse import clickhouse_url, client

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

FIXED = "FixedString(8)"


def rows(ch: "Client", table: str) -> list[tuple[object, ...]]:
    found = ch.query(
        f"SELECT * FROM hostile_fixed.{table} ORDER BY tuple(*)",
        query_formats={"FixedString": "string"},
    )
    return [tuple(row) for row in found.result_rows]


def targets_of(configs: list[ClickHouseTargetConfig]) -> list[ClickHouseTarget]:
    servers = ClickHouseServers()
    made = [t for c in configs for t in clickhouse_target(c, configs, servers)]
    for target in made:
        target.check()
    return made


@pytest.fixture
def ch() -> "Client":
    ch = client()
    ch.command("DROP DATABASE IF EXISTS hostile_fixed SYNC")
    ch.command("CREATE DATABASE hostile_fixed")
    return ch


def test_sessions_devices_and_anonymous_ids_in_fixed_string_columns_go_with_her(
    ch: "Client",
) -> None:
    ch.command(
        f"CREATE TABLE hostile_fixed.s (project_id UInt16, session_id {FIXED}, "
        f"user_id String, anon {FIXED}, dev {FIXED}) "
        "ENGINE = ReplacingMergeTree ORDER BY (project_id, session_id)"
    )
    ch.command(
        f"CREATE TABLE hostile_fixed.e (project_id UInt16, session_id {FIXED}, x String) "
        "ENGINE = MergeTree ORDER BY session_id"
    )
    ch.command(
        "CREATE TABLE hostile_fixed.v (project_id UInt16, type String, value String) "
        "ENGINE = MergeTree ORDER BY value"
    )
    url = clickhouse_url()
    sessions = ClickHouseTargetConfig(
        name="s",
        url=url,
        table="hostile_fixed.s",
        user_id_column="user_id",
        anonymous_id_column="anon",
        device_column="dev",
        follow_device=True,
    )
    events = ClickHouseTargetConfig(name="e", url=url, table="hostile_fixed.e", sessions_from="s")
    values = ClickHouseTargetConfig(
        name="v",
        url=url,
        table="hostile_fixed.v",
        value_column="value",
        type_column="type",
        user_id_types=["U"],
        anonymous_id_types=["A"],
        identities_from="s",
    )
    targets = targets_of([values, sessions, events])  # values first: they read the sessions
    columns = ["project_id", "session_id", "user_id", "anon", "dev"]
    ch.insert(
        "hostile_fixed.s",
        [
            [1, "s1", "alice", "an1", "d1"],
            [1, "s2", "", "an2", "d1"],  # anonymous, on her device
            [1, "s3", "bob", "an3", "d3"],
        ],
        column_names=columns,
    )
    ch.insert(
        "hostile_fixed.e",
        [[1, "s1", "hers"], [1, "s2", "hers, anonymous"], [1, "s3", "bob's"]],
        column_names=["project_id", "session_id", "x"],
    )
    ch.insert(
        "hostile_fixed.v",
        [[1, "U", "alice"], [1, "A", "an1"], [1, "A", "an3"], [1, "U", "bob"]],
        column_names=["project_id", "type", "value"],
    )

    before = {t.name: t.remaining(1, "alice") for t in targets}
    deleted = {t.name: t.delete_batch(1, "alice", 10) for t in targets}

    assert before == {"v": {"v": 2}, "s": {"s": 2, "e": 2}}
    assert deleted == {"v": {"v": 2}, "s": {"s": 2, "e": 2}}
    assert rows(ch, "s") == [(1, "s3", "bob", "an3", "d3")]
    assert rows(ch, "e") == [(1, "s3", "bob's")]
    assert rows(ch, "v") == [(1, "A", "an3"), (1, "U", "bob")]
    assert all(n == 0 for t in targets for n in t.remaining(1, "alice").values())


def test_a_user_id_longer_than_a_fixed_string_column_is_in_none_of_its_rows(
    ch: "Client",
) -> None:
    """``alice-longer`` cannot be in a FixedString(8): she has no rows there (a job
    completes, deleting none), and alice's row is not hers."""
    ch.command(
        f"CREATE TABLE hostile_fixed.u (project_id UInt16, user_id {FIXED}) "
        "ENGINE = MergeTree ORDER BY user_id"
    )
    config = ClickHouseTargetConfig(
        name="u", url=clickhouse_url(), table="hostile_fixed.u", user_id_column="user_id"
    )
    [target] = targets_of([config])
    ch.insert(
        "hostile_fixed.u", [[1, "alice"], [1, "alice-lo"]], column_names=["project_id", "user_id"]
    )

    assert target.remaining(1, "alice-longer") == {"u": 0}
    assert target.delete_batch(1, "alice-longer", 10) == {"u": 0}
    assert target.delete_batch(1, "alice", 10) == {"u": 1}
    assert rows(ch, "u") == [(1, "alice-lo")]


def test_an_array_of_ids_is_refused_as_a_user_id_column(ch: "Client") -> None:
    """A row whose Array column holds alice and bob is neither's alone: matched with
    ``IN`` it is found by nobody (remaining() would say 0 with her id in it), and
    deleted it would take bob's. The target's check refuses the column."""
    ch.command(
        "CREATE TABLE hostile_fixed.a (project_id UInt16, ids Array(String)) "
        "ENGINE = MergeTree ORDER BY project_id"
    )
    config = ClickHouseTargetConfig(
        name="a", url=clickhouse_url(), table="hostile_fixed.a", user_id_column="ids"
    )

    with pytest.raises(ConfigError, match="ids"):
        targets_of([config])

"""Guards, on chdb, that a ClickHouse target's job takes exactly the person's rows:
user ids that differ from hers only by case, a trailing space, unicode
normalization, or that hold quotes, backslashes and LIKE's wildcards (``%``, ``_``)
are someone else's, in a String or a LowCardinality(Nullable(String)) column; the
same user id in another project, a session id reused in another project, and rows
with no project are not the project's; an anonymous id another user's session
carries, even in a newer version only, is not hers."""

import unicodedata
from typing import TYPE_CHECKING

import pytest

from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_targets import ClickHouseServers, ClickHouseTarget, clickhouse_target
from tests.openreplay_clickhouse import clickhouse_url, client

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

LOOKALIKES = [
    "Alice",
    "ALICE",
    "alice ",
    " alice",
    "al_ce",
    "al%",
    "alic%",
    "%",
    "_____",
    "alice'",
    "al'ice",
    'al"ice',
    "al\\ice",
    "alice\\",
    "alice`",
    unicodedata.normalize("NFD", "alicé"),
]
HERS = ["alice", unicodedata.normalize("NFC", "alicé"), "al_ce%", "o'brien\\"]


def targets_of(configs: list[ClickHouseTargetConfig]) -> list[ClickHouseTarget]:
    servers = ClickHouseServers()
    made = [t for c in configs for t in clickhouse_target(c, configs, servers)]
    for target in made:
        target.check()
    return made


@pytest.fixture
def ch() -> "Client":
    ch = client()
    ch.command("DROP DATABASE IF EXISTS hostile_apart SYNC")
    ch.command("CREATE DATABASE hostile_apart")
    return ch


@pytest.mark.parametrize("column", ["String", "LowCardinality(Nullable(String))"])
@pytest.mark.parametrize("user_id", HERS)
def test_lookalike_user_ids_and_other_projects_are_not_hers(
    ch: "Client", column: str, user_id: str
) -> None:
    ch.command(
        f"CREATE TABLE hostile_apart.u (project_id Nullable(UInt16), n UInt32, user_id {column}) "
        "ENGINE = MergeTree ORDER BY n SETTINGS allow_nullable_key = 1"
    )
    config = ClickHouseTargetConfig(
        name="u", url=clickhouse_url(), table="hostile_apart.u", user_id_column="user_id"
    )
    [target] = targets_of([config])
    others = [*LOOKALIKES, *(one for one in HERS if one != user_id)]
    data = [[1, n, one] for n, one in enumerate(others)]
    data += [[1, 100, user_id], [1, 101, user_id], [2, 102, user_id], [None, 103, user_id]]
    ch.insert("hostile_apart.u", data, column_names=["project_id", "n", "user_id"])

    assert target.remaining(1, user_id) == {"u": 2}
    assert target.delete_batch(1, user_id, 10) == {"u": 2}
    assert target.remaining(1, user_id) == {"u": 0}
    left = ch.query("SELECT n FROM hostile_apart.u ORDER BY n").result_rows
    assert [n for (n,) in left] == [*range(len(others)), 102, 103]


def test_a_session_id_reused_in_another_project_keeps_its_rows_there(ch: "Client") -> None:
    ch.command(
        "CREATE TABLE hostile_apart.s (project_id UInt16, session_id UInt64, user_id String) "
        "ENGINE = ReplacingMergeTree ORDER BY (project_id, session_id)"
    )
    ch.command(
        "CREATE TABLE hostile_apart.e (project_id UInt16, session_id UInt64, "
        "`$user_id` String) ENGINE = MergeTree ORDER BY session_id"
    )
    url = clickhouse_url()
    sessions = ClickHouseTargetConfig(
        name="s", url=url, table="hostile_apart.s", user_id_column="user_id"
    )
    events = ClickHouseTargetConfig(
        name="e", url=url, table="hostile_apart.e", sessions_from="s", user_id_column="$user_id"
    )
    [target] = targets_of([sessions, events])
    ch.insert(
        "hostile_apart.s",
        [[1, 7, "alice"], [2, 7, "bob"], [2, 8, "alice"]],
        column_names=["project_id", "session_id", "user_id"],
    )
    ch.insert(
        "hostile_apart.e",
        [[1, 7, ""], [2, 7, ""], [2, 8, ""], [2, 9, "alice"]],
        column_names=["project_id", "session_id", "$user_id"],
    )

    assert target.delete_batch(1, "alice", 10) == {"s": 1, "e": 1}
    assert target.remaining(1, "alice") == {"s": 0, "e": 0}
    assert ch.query("SELECT * FROM hostile_apart.s ORDER BY tuple(*)").result_rows == [
        (2, 7, "bob"),
        (2, 8, "alice"),
    ]
    assert ch.query("SELECT * FROM hostile_apart.e ORDER BY tuple(*)").result_rows == [
        (2, 7, ""),
        (2, 8, ""),
        (2, 9, "alice"),
    ]


def test_an_anonymous_id_bobs_newer_session_version_carries_is_not_hers(ch: "Client") -> None:
    """Bob's session carries her anonymous id only in its newest version (two parts,
    not merged): the id is shared, and its autocomplete value stays."""
    ch.command(
        "CREATE TABLE hostile_apart.s (project_id UInt16, session_id UInt64, user_id String, "
        "anon String, _timestamp DateTime) "
        "ENGINE = ReplacingMergeTree(_timestamp) ORDER BY (project_id, session_id)"
    )
    ch.command(
        "CREATE TABLE hostile_apart.v (project_id UInt16, type String, value String) "
        "ENGINE = MergeTree ORDER BY value"
    )
    url = clickhouse_url()
    sessions = ClickHouseTargetConfig(
        name="s",
        url=url,
        table="hostile_apart.s",
        user_id_column="user_id",
        anonymous_id_column="anon",
    )
    values = ClickHouseTargetConfig(
        name="v",
        url=url,
        table="hostile_apart.v",
        value_column="value",
        type_column="type",
        user_id_types=["U"],
        anonymous_id_types=["A"],
        identities_from="s",
    )
    [v, _] = targets_of([values, sessions])
    columns = ["project_id", "session_id", "user_id", "anon", "_timestamp"]
    ch.insert(
        "hostile_apart.s",
        [[1, 1, "alice", "shared", 1], [1, 2, "bob", "his", 1]],
        column_names=columns,
    )
    ch.insert("hostile_apart.s", [[1, 2, "bob", "shared", 2]], column_names=columns)
    ch.insert(
        "hostile_apart.v",
        [[1, "U", "alice"], [1, "A", "shared"], [1, "A", "his"]],
        column_names=["project_id", "type", "value"],
    )

    assert v.delete_batch(1, "alice", 10) == {"v": 1}
    assert ch.query("SELECT type, value FROM hostile_apart.v ORDER BY value").result_rows == [
        ("A", "his"),
        ("A", "shared"),
    ]

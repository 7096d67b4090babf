"""`targets find` on ClickHouse's real engine in process (chdb, through
clickhouse-connect's ``chdb://`` DSN): every table's text-like columns (String,
LowCardinality, Nullable, Array, Map, JSON) and session keys, by system.columns,
within the project."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from api.composition import Services
from application.remains import find_remains
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.remains_search import TargetsRemains
from infrastructure.target_config import TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.openreplay_clickhouse import clickhouse_url, client

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

DATABASE = "remains_find"
ALICE, DEVICE = "alice@example.com", "anon-7f3a91c2"
SCHEMA = [
    f"""CREATE TABLE {DATABASE}.sessions (
        session_id UInt64, project_id UInt16, user_id Nullable(String),
        user_anonymous_id Nullable(String)
    ) ENGINE = ReplacingMergeTree ORDER BY (project_id, session_id)""",
    f"""CREATE TABLE {DATABASE}.events (
        session_id UInt64, project_id UInt16, label LowCardinality(String),
        properties JSON DEFAULT '{{}}'
    ) ENGINE = MergeTree ORDER BY (project_id, session_id)""",
    f"""CREATE TABLE {DATABASE}.users (
        project_id UInt16, `$user_id` String, tags Array(String), attributes Map(String, String)
    ) ENGINE = MergeTree ORDER BY project_id""",
]


@pytest.fixture
def ch() -> Iterator["Client"]:
    engine = client()
    engine.command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
    engine.command(f"CREATE DATABASE {DATABASE}")
    for statement in SCHEMA:
        engine.command(statement)
    engine.insert(
        f"{DATABASE}.sessions",
        [
            [11, 1, ALICE, DEVICE],
            [12, 1, ALICE, DEVICE],
            [13, 1, "bob", "anon-b"],
            [14, 2, ALICE, "x"],
            [15, 1, "carol", ALICE],  # carol's anonymous id: alice's text, not alice
        ],
        column_names=["session_id", "project_id", "user_id", "user_anonymous_id"],
    )
    engine.insert(
        f"{DATABASE}.events",
        [
            [11, 1, f"typed by {ALICE}", {"buyer": ALICE}],
            [12, 1, "click", {"device": DEVICE}],
            [13, 1, f"typed by m{ALICE}", {}],  # not hers: a longer id
            [14, 2, f"typed by {ALICE}", {"buyer": ALICE}],  # another project's alice
        ],
        column_names=["session_id", "project_id", "label", "properties"],
    )
    engine.insert(
        f"{DATABASE}.users",
        [[1, ALICE, ["vip", ALICE], {"email": ALICE}], [2, ALICE, [ALICE], {}], [1, "bob", [], {}]],
        column_names=["project_id", "$user_id", "tags", "attributes"],
    )
    yield engine
    engine.command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")


def test_every_clickhouse_column_that_names_the_person_is_found_within_the_project(
    services: Services, ch: "Client"
) -> None:
    url = clickhouse_url()
    config = TargetsConfig(
        targets=[
            ClickHouseTargetConfig(
                name="ch.events",
                url=url,
                table=f"{DATABASE}.events",
                sessions_from="ch.sessions",
            ),
            ClickHouseTargetConfig(
                name="ch.sessions",
                url=url,
                table=f"{DATABASE}.sessions",
                user_id_column="user_id",
                anonymous_id_column="user_anonymous_id",
            ),
        ]
    )
    targets = build_targets(config, services.database)
    check_targets(targets)
    searcher = TargetsRemains(config, services.database, targets)
    report = find_remains(searcher, 1, ALICE)

    mine = {
        (p.location.removeprefix(f"{DATABASE}."), p.count, p.covered_by)
        for p in report.findings.places
        if p.store == "target" or p.location.startswith(f"{DATABASE}.")
    }
    assert mine == {
        # Her user id, anonymous id and session keys: answered by the targets' counts.
        ("ch.sessions", 2, "ch.sessions"),
        ("ch.events", 2, "ch.events"),
        # Text that names her elsewhere, covered while the events target counts hers.
        ("events.label", 1, "ch.events"),
        ("events.properties", 2, "ch.events"),  # her id, and her device's
        ("users.$user_id", 1, None),
        ("users.tags", 1, None),
        ("users.attributes", 1, None),
    }
    assert report.findings.searched["targetColumns"] == 4
    assert report.identities["anonymousIds"] == 1 and report.identities["sessionIds"] == 2
    # Her ids went in scratch tables, never in a statement's text; none is left.
    scratch = "SELECT count() FROM system.tables WHERE startsWith(name, '_jobtrail_')"
    assert ch.query(scratch).result_rows == [(0,)]

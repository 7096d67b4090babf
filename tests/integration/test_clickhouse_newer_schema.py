"""Hostile review: what OpenReplay 1.26 and later write of a person in ClickHouse,
beside the tables of 1.24/1.25 (tests.openreplay_clickhouse), goes with her too.

Since 1.26, views fill ``product_analytics.autocomplete_simple`` from the profiles
and the analytics events as well, the user id under the name ``$user_id``; and two
tables keyed by ``user_id`` (the profile's ``$user_id``) keep the names and the
values of each profile's properties. Written here in this test's own words, on
ClickHouse's real engine (chdb), run by the real runner."""

from typing import TYPE_CHECKING

import pytest

from domain.lifecycle import JobStatus
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.target_config import TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.openreplay_clickhouse import clickhouse_url, fresh_installation, load
from tests.runner_support import RunnerKit

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

SUGGESTIONS = "product_analytics.autocomplete_simple"
PROPERTIES = "product_analytics.user_properties"
PROPERTY_VALUES = "product_analytics.autocomplete_user_properties_grouped"
NEWER = [
    f"ALTER TABLE {SUGGESTIONS} MODIFY COLUMN source "
    "Enum8('sessions' = 0, 'users' = 1, 'events' = 2)",
    f"""CREATE MATERIALIZED VIEW product_analytics.suggested_from_profiles TO {SUGGESTIONS} AS
    SELECT project_id, 'users' AS source, p.1 AS name, p.2 AS value,
           sumState(toUInt16(1)) AS data_count, _timestamp
    FROM product_analytics.users
    ARRAY JOIN [('$user_id', `$user_id`), ('$email', `$email`)] AS p
    WHERE notEmpty(p.2) GROUP BY ALL""",
    f"""CREATE MATERIALIZED VIEW product_analytics.suggested_from_events TO {SUGGESTIONS} AS
    SELECT project_id, 'events' AS source, '$user_id' AS name, `$user_id` AS value,
           sumState(toUInt16(1)) AS data_count, _timestamp
    FROM product_analytics.events WHERE notEmpty(`$user_id`) GROUP BY ALL""",
    f"""CREATE TABLE {PROPERTIES} (
        project_id UInt16, user_id String, property_name String, value_type String,
        auto_captured_property Bool, _timestamp DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_timestamp)
      ORDER BY (project_id, user_id, property_name, value_type, auto_captured_property)""",
    f"""CREATE MATERIALIZED VIEW product_analytics.properties_of_profiles TO {PROPERTIES} AS
    SELECT project_id, `$user_id` AS user_id, k.1 AS property_name, k.2 AS value_type,
           false AS auto_captured_property
    FROM product_analytics.users ARRAY JOIN JSONAllPathsWithTypes(properties) AS k
    GROUP BY ALL""",
    f"""CREATE TABLE {PROPERTY_VALUES} (
        project_id UInt16, user_id String, property_name String, value String,
        data_count AggregateFunction(sum, UInt16), _timestamp DateTime DEFAULT now()
    ) ENGINE = AggregatingMergeTree() ORDER BY (project_id, user_id, property_name, value)
      SETTINGS allow_dimensions_outside_sorting_key = 1""",  # OpenReplay's _timestamp
    f"""CREATE MATERIALIZED VIEW product_analytics.values_of_profiles TO {PROPERTY_VALUES} AS
    SELECT project_id, `$user_id` AS user_id, kv.1 AS property_name, kv.2 AS value,
           sumState(toUInt16(1)) AS data_count
    FROM product_analytics.users
    ARRAY JOIN JSONExtractKeysAndValues(toString(properties), 'String') AS kv
    GROUP BY ALL""",
]


@pytest.fixture
def installation() -> "Client":
    """The installation of tests.openreplay_clickhouse, upgraded as 1.26 does,
    before its rows are written (the views fill the new places from them)."""
    ch = fresh_installation()
    for statement in NEWER:
        ch.command(statement)
    load(ch)
    return ch


def run_job(kit: RunnerKit) -> int:
    targets = build_targets(
        TargetsConfig(5, list(openreplay_clickhouse_targets(clickhouse_url()))),
        kit.services.database,
    )
    check_targets(targets)
    job_id = kit.schedule("alice", 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()
    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    return job_id


def rows(ch: "Client", sql: str) -> list[tuple[object, ...]]:
    return sorted(tuple(row) for row in ch.query(sql).result_rows)


def test_her_user_id_suggested_from_her_profile_and_events_goes_with_her(
    kit: RunnerKit, installation: "Client"
) -> None:
    ch = installation
    named = f"SELECT DISTINCT project_id, source, value FROM {SUGGESTIONS} WHERE name = '$user_id'"
    assert (1, "events", "alice") in rows(ch, named)  # written by the views

    job_id = run_job(kit)

    assert rows(ch, named) == [
        (1, "events", "bob"),
        (1, "users", "bob"),
        (2, "events", "alice"),  # another project's
        (2, "users", "alice"),
    ]
    receipt = kit.services.history.receipt(1, job_id)
    assert receipt[SUGGESTIONS] == 4  # user_id and user_anonymous_id, $user_id twice


def test_her_profiles_properties_kept_by_user_id_go_with_her(
    kit: RunnerKit, installation: "Client"
) -> None:
    ch = installation
    hers = "project_id = 1 AND user_id = 'alice'"
    theirs = {
        t: rows(ch, f"SELECT * APPLY toString FROM {t} WHERE NOT ({hers})")
        for t in [PROPERTIES, PROPERTY_VALUES]
    }
    assert ("1", "alice", "city", "Lyon") in rows(
        ch, f"SELECT * EXCEPT (data_count, _timestamp) APPLY toString FROM {PROPERTY_VALUES}"
    )

    job_id = run_job(kit)

    for table in [PROPERTIES, PROPERTY_VALUES]:
        assert rows(ch, f"SELECT * APPLY toString FROM {table}") == theirs[table]
    receipt = kit.services.history.receipt(1, job_id)
    assert receipt.get(PROPERTIES) == 2 and receipt.get(PROPERTY_VALUES) == 2  # plan, city

"""ClickHouse keeps the rule of infrastructure.person_identities: the person's
anonymous id that is another user's id in the project (alice's device says
``bob7``, and bob7 is a user) is not hers, so an untyped values target leaves the
value ``bob7``, which may be bob's, and targets find passes it over. On
ClickHouse's real engine (chdb)."""

import uuid
from pathlib import Path

from api.composition import Services
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_targets import ClickHouseServers
from infrastructure.remains_clickhouse import clickhouse_session_identities
from infrastructure.target_config import TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.openreplay_clickhouse import SESSION_COLUMNS, T0, clickhouse_url, fresh_installation

VALUES = "experimental.search_values"


def test_an_untyped_value_that_is_another_users_id_stays(
    services: Services, tmp_path: Path
) -> None:
    ch = fresh_installation()
    ch.command(
        f"CREATE TABLE {VALUES} (project_id UInt16, value String) ENGINE = MergeTree "
        "ORDER BY (project_id, value)"
    )
    device = uuid.UUID(int=7)
    ch.insert(
        "experimental.sessions",
        [
            [1, 1, device, "alice", "bob7", "Firefox", T0, 60, None],
            [2, 1, device, "alice", "tab-a", "Firefox", T0, 60, None],
            [3, 1, uuid.UUID(int=8), "bob7", "dev-b", "Firefox", T0, 60, None],
        ],
        column_names=SESSION_COLUMNS,
    )
    ch.insert(
        VALUES, [[1, "bob7"], [1, "alice"], [1, "tab-a"]], column_names=["project_id", "value"]
    )
    url = clickhouse_url()
    config = TargetsConfig(
        10,
        [
            ClickHouseTargetConfig(
                name="values",
                url=url,
                table=VALUES,
                value_column="value",
                identities_from="experimental.sessions",
            ),
            ClickHouseTargetConfig(
                name="experimental.sessions",
                url=url,
                table="experimental.sessions",
                user_id_column="user_id",
                anonymous_id_column="user_anonymous_id",
            ),
        ],
    )
    targets = build_targets(config, services.database)
    check_targets(targets)
    values = next(t for t in targets if t.name == "values")

    assert values.remaining(1, "alice") == {"values": 2}
    assert values.delete_batch(1, "alice", 10) == {"values": 2}
    assert ch.query(f"SELECT value FROM {VALUES}").result_rows == [("bob7",)]
    sessions = config.targets[1]
    assert isinstance(sessions, ClickHouseTargetConfig)
    found = clickhouse_session_identities(sessions, ClickHouseServers().table(sessions), 1, "alice")
    assert found.anonymous_ids == {"tab-a"}
    assert found.shared_anonymous_ids == {"bob7"}

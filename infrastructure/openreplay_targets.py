"""The deletion targets that point jobtrail at an OpenReplay installation's data,
written by ``jobtrail openreplay import`` as a JOBTRAIL_CONFIG file.

The file is the encoding of the same ``TargetsConfig`` that jobtrail reads back:
one shape for what is written and what is read."""

from collections.abc import Sequence

import msgspec

from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.openreplay_children import session_children
from infrastructure.openreplay_person_targets import (
    anonymous_id_column,
    held_columns,
    person_value_targets,
)
from infrastructure.openreplay_recordings import recordings_target
from infrastructure.openreplay_source import SESSIONS, SessionTable
from infrastructure.target_config import SqlTargetConfig, TargetsConfig

DEVICE = "user_uuid"
HEADER = "# Written by `jobtrail openreplay import`: where OpenReplay keeps a person's data.\n"


def openreplay_targets(
    database_url: str,
    bucket: str,
    endpoint_url: str | None,
    region: str | None,
    batch_size: int = 1000,
    session_tables: Sequence[SessionTable] = (),
    clickhouse: Sequence[ClickHouseTargetConfig] = (),
) -> TargetsConfig:
    """The sessions table, every table that refers to it (``session_tables``, each
    counted on the receipt), and each session's recordings."""
    held = held_columns(database_url)  # what the installation's tables hold
    return TargetsConfig(
        batch_size=batch_size,
        targets=[
            *person_value_targets(database_url, SESSIONS, held),
            SqlTargetConfig(
                name=SESSIONS,
                url=database_url,
                schema="public",
                table="sessions",
                user_id_column="user_id",
                project_id_column="project_id",
                id_column="session_id",
                anonymous_id_column=anonymous_id_column(held),
                # follow_device stays off: an operator turns it on (docs/deletions.md).
                device_column=DEVICE if DEVICE in held.get("sessions", ()) else None,
            ),
            *session_children(database_url, SESSIONS, session_tables),
            recordings_target(bucket, endpoint_url, region, sessions_from=SESSIONS),
            *clickhouse,  # infrastructure.openreplay_clickhouse
        ],
    )


def targets_toml(config: TargetsConfig) -> str:
    return HEADER + msgspec.toml.encode(config).decode()

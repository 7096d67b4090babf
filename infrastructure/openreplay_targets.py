"""The deletion targets that point jobtrail at an OpenReplay installation's data,
written by ``jobtrail openreplay import`` as a JOBTRAIL_CONFIG file.

The file is the encoding of the same ``TargetsConfig`` that jobtrail reads back:
one shape for what is written and what is read."""

import msgspec

from infrastructure.openreplay_person_targets import (
    anonymous_id_column,
    held_columns,
    person_value_targets,
)
from infrastructure.openreplay_recordings import recordings_target
from infrastructure.target_config import SqlTargetConfig, TargetsConfig

HEADER = "# Written by `jobtrail openreplay import`: where OpenReplay keeps a person's data.\n"


def openreplay_targets(
    database_url: str,
    bucket: str,
    endpoint_url: str | None,
    region: str | None,
    batch_size: int = 1000,
) -> TargetsConfig:
    """The sessions table (its event tables follow by their ON DELETE CASCADE), and
    each session's recordings."""
    held = held_columns(database_url)  # what the installation's tables hold
    return TargetsConfig(
        batch_size=batch_size,
        targets=[
            *person_value_targets(database_url, "sessions", held),
            SqlTargetConfig(
                name="sessions",
                url=database_url,
                schema="public",
                table="sessions",
                user_id_column="user_id",
                project_id_column="project_id",
                id_column="session_id",
                anonymous_id_column=anonymous_id_column(held),
            ),
            recordings_target(bucket, endpoint_url, region, sessions_from="sessions"),
        ],
    )


def targets_toml(config: TargetsConfig) -> str:
    return HEADER + msgspec.toml.encode(config).decode()

"""Two s3 targets in one bucket: each target's own patterns are kept apart
(key_patterns.names_problem), and so must be the patterns of targets that share
a bucket, or one person's job deletes another's objects through the other target."""

from pathlib import Path

import pytest

from infrastructure.target_config import ConfigError, load_config
from tests.integration.test_deletion_targets import write

SESSIONS = '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "sessions"\n'


def s3_target(name: str, prefix: str, bucket: str = "mobs", sessions: bool = False) -> str:
    return (
        f'[[targets]]\nkind = "s3"\nname = "{name}"\nbucket = "{bucket}"\n'
        f'endpoint_url = "http://minio:9000"\nprefix = "{prefix}"\n'
        + ('sessions_from = "sessions"\n' if sessions else "")
    )


def test_targets_whose_patterns_name_one_object_for_two_people_in_one_bucket_are_refused(
    tmp_path: Path,
) -> None:
    # Session 1's recordings folder "1/" is also project 1's exports: every user's.
    toml = write(
        tmp_path,
        SESSIONS
        + s3_target("recordings", "{sessionId}/", sessions=True)
        + s3_target("exports", "{projectId}/{userId}/"),
    )
    with pytest.raises(
        ConfigError,
        match=r"^Targets recordings and exports share bucket mobs: '\{sessionId\}/' and "
        r"'\{projectId\}/\{userId\}/' can name one object for two people\.$",
    ):
        load_config(str(toml))


def test_targets_of_one_bucket_whose_names_stay_apart_are_accepted(tmp_path: Path) -> None:
    apart = [
        s3_target("recordings", "{sessionId}/", sessions=True)
        + s3_target("exports", "exports/{projectId}/{userId}/"),
        # The same layout in two buckets: nothing shared.
        s3_target("recordings", "{sessionId}/", sessions=True)
        + s3_target("exports", "{projectId}/{userId}/", bucket="exports"),
        # One person's objects under the other pattern's: still that one person's.
        s3_target("exports", "{projectId}/{userId}/")
        + s3_target("archive", "{projectId}/{userId}/archive/"),
    ]
    for targets in apart:
        load_config(str(write(tmp_path, SESSIONS + targets)))

"""`follow_device = true`: the project's sessions without a user id, recorded on a
device of the person's sessions, go too, with everything that refers to them
(issue 24, finding 6). Never a device another user id of the project used, never
another project's; off by default.

Batches take the device's anonymous sessions before the person's own, which are
what links them: a batch that took the last linking session first would strand
them where nothing finds them any more."""

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.target_config import ConfigError, SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets
from tests.conftest import job_now
from tests.openreplay_postgresql import (
    PERSON,
    SESSIONS,
    SHARED_TABLET,
    WEB,
    Installation,
    counts_of,
    installed,
    session_targets,
    sessions_of,
    without_sessions,
)
from tests.runner_support import runner_kit


@pytest.fixture(params=["sqlite", "postgresql"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    with installed(request.param, tmp_path / "openreplay") as made:
        yield made


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_the_persons_device_sessions_go_with_theirs_and_nobody_elses(
    services: Services, installation: Installation, tmp_path: Path, batch_size: int
) -> None:
    config = TargetsConfig(targets=[*session_targets(installation, follow_device=True)])
    targets = build_targets(config, services.database)
    [sessions] = targets
    before = installation.rows_by_session()
    gone = sessions_of(WEB, PERSON, follow_device=True)
    anonymous = {s.session_id for s in SESSIONS if s.user_id is None} & gone
    assert len(anonymous) == 4  # her laptop's three and her phone's one
    assert sessions.remaining(WEB, PERSON) == counts_of(before, gone)
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(batch_size=batch_size, targets=targets)).run_due_jobs()

    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(WEB, job_id) == counts_of(before, gone)
    after = installation.rows_by_session()
    assert after == without_sessions(before, gone)
    # The tablet alice shares with bob: its anonymous session could be either's.
    shared = {s.session_id for s in SESSIONS if s.device == SHARED_TABLET and s.user_id is None}
    assert shared and shared <= {row[0] for row in after["public.sessions"]}


def test_off_by_default_the_device_sessions_stay(
    services: Services, installation: Installation, tmp_path: Path
) -> None:
    targets = build_targets(
        TargetsConfig(targets=[*session_targets(installation)]), services.database
    )
    before = installation.rows_by_session()
    kit = runner_kit(services, tmp_path)
    kit.schedule(PERSON, WEB)
    kit.worker(kit.runner(targets=targets)).run_due_jobs()
    assert installation.rows_by_session() == without_sessions(before, sessions_of(WEB, PERSON))


def test_follow_device_needs_a_device_column_on_a_sessions_target() -> None:
    with pytest.raises(ValueError, match="follow_device goes with a device_column"):
        SqlTargetConfig(name="s", table="sessions", follow_device=True)
    with pytest.raises(ValueError, match="follow_device"):
        SqlTargetConfig(
            name="c", table="t", sessions_from="s", device_column="d", follow_device=True
        )


def test_a_device_column_the_table_lacks_fails_the_check(
    services: Services, installation: Installation
) -> None:
    [config, *children] = session_targets(installation, follow_device=True)
    wrong = msgspec.structs.replace(config, device_column="device_uuid")
    [target] = build_targets(TargetsConfig(targets=[wrong, *children]), services.database)
    with pytest.raises(ConfigError, match="has no column 'device_uuid'"):
        target.check()

"""`follow_device = true` on ClickHouse's sessions (issue 24, finding 6): the
project's sessions without a user id (NULL or empty), recorded on a device of the
person's sessions, go too, with their events, before the person's own; never a
device another user id of the project used, never another project's; off by
default. On ClickHouse's real engine (chdb), through the real runner."""

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from domain.lifecycle import JobStatus
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_targets import ClickHouseServers
from infrastructure.database import Database, parse_database_url
from infrastructure.openreplay_clickhouse import openreplay_clickhouse_targets
from infrastructure.remains_clickhouse import clickhouse_session_identities
from infrastructure.target_config import ConfigError, TargetsConfig, load_config
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.integration.test_deletion_targets import write
from tests.openreplay_clickhouse import (
    ALICE,
    PERSON,
    SESSION_COLUMNS,
    T0,
    clickhouse_url,
    fresh_installation,
    load,
    rows_of,
)
from tests.runner_support import RunnerKit

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

SESSIONS = "experimental.sessions"
TABLET = "ee000000-0000-4000-8000-00000000000e"
NO_DEVICE = str(uuid.UUID(int=0))  # ClickHouse's default UUID
MORE_SESSIONS = [  # (session, project, device, user id, anonymous id), beside load's
    (4101, 1, ALICE.device, "", "anon-alice"),  # her laptop, from an SDK that sends ""
    (4102, 1, ALICE.device, "", "anon-alice"),
    (1101, 1, TABLET, "alice", "anon-alice"),
    (2101, 1, TABLET, "bob", "anon-bob"),  # he used the tablet too ...
    (4201, 1, TABLET, None, "anon-tablet"),  # ... so its anonymous session is either's
    (1102, 1, NO_DEVICE, "alice", "anon-alice"),
    (4401, 1, NO_DEVICE, None, "anon-nodevice"),  # no device is nobody's device
    (4301, 2, ALICE.device, None, "anon-elsewhere"),  # her laptop, in another project
]
LINKED = (4001, 4101, 4102)
"""Her laptop's sessions without a user id (4001: the installation's, before login)."""
HERS = (*LINKED, 1101, 1102)
"""Sessions that go beside the installation's 1001-1012 (PERSON)."""
WITH_SESSIONS = (
    SESSIONS,
    "experimental.events",
    "experimental.ios_events",
    "experimental.user_viewed_sessions",
    "experimental.user_favorite_sessions",
    "product_analytics.events",
)


def gone(table: str, sessions: tuple[int, ...] = HERS) -> str:
    """What a job for alice in project 1 deletes from a table, with follow_device."""
    if table not in WITH_SESSIONS:
        return PERSON[table]
    return f"({PERSON[table]}) OR (project_id = 1 AND session_id IN {sessions})"


@pytest.fixture
def installation() -> "Client":
    ch = fresh_installation()
    load(ch)
    ch.insert(
        SESSIONS,
        [
            [session, project, uuid.UUID(device), user, anonymous, "Firefox", T0, 60, None]
            for session, project, device, user, anonymous in MORE_SESSIONS
        ],
        column_names=SESSION_COLUMNS,
    )
    ch.insert(
        "experimental.events",
        [
            [session, project, kind, T0, "Log in", m]
            for session, project, *_ in MORE_SESSIONS
            for m, kind in enumerate(["CLICK", "LOCATION"])
        ],
        column_names=["session_id", "project_id", "event_type", "datetime", "label", "message_id"],
    )
    return ch


def imported(follow_device: bool = False) -> TargetsConfig:
    """What `openreplay import --clickhouse` writes, follow_device turned on or not."""
    targets = openreplay_clickhouse_targets(clickhouse_url())
    return TargetsConfig(
        5,
        [
            msgspec.structs.replace(t, follow_device=True)
            if follow_device and t.name == SESSIONS
            else t
            for t in targets
        ],
    )


def count(ch: "Client", table: str, where: str) -> int:
    return int(ch.query(f"SELECT count() FROM {table} WHERE {where}").result_rows[0][0])


def test_her_devices_anonymous_sessions_go_with_their_events_counted_and_nobody_elses(
    kit: RunnerKit, installation: "Client"
) -> None:
    ch = installation
    theirs = {table: count(ch, table, gone(table)) for table in PERSON}
    others = {table: rows_of(ch, table, f"NOT coalesce(({gone(table)}), 0)") for table in PERSON}
    targets = build_targets(imported(follow_device=True), kit.services.database)
    check_targets(targets)
    sessions = next(t for t in targets if t.name == SESSIONS)
    assert sessions.remaining(1, "alice") == {t: theirs[t] for t in WITH_SESSIONS}

    job_id = kit.schedule("alice", 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(1, job_id) == theirs
    assert theirs[SESSIONS] == 12 + 5 and theirs["experimental.events"] == 36 + 3 + 2 * 4
    assert {table: rows_of(ch, table) for table in PERSON} == others
    kept = "session_id IN (4201, 4401, 4301)"  # the shared tablet, no device, project 2
    assert count(ch, SESSIONS, kept) == 3 and count(ch, "experimental.events", kept) == 6
    assert all(n == 0 for t in targets for n in t.remaining(1, "alice").values())
    mutations = ch.query("SELECT command FROM system.mutations").result_rows
    # As whole tokens: a scratch table's random name may hold "4101" by chance.
    named = re.compile(rf"\b({re.escape(ALICE.device)}|4101)\b")
    assert not [c for (c,) in mutations if named.search(c)]


def test_a_batch_takes_the_devices_sessions_before_her_own_which_link_them(
    installation: "Client", tmp_path: Path
) -> None:
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'jobtrail.db'}"))
    targets = build_targets(imported(follow_device=True), database)
    sessions = next(t for t in targets if t.name == SESSIONS)

    linked = f"session_id IN {LINKED}"
    events = count(installation, "experimental.events", linked)

    counts = sessions.delete_batch(1, "alice", 2)

    assert counts[SESSIONS] == 2 and count(installation, SESSIONS, linked) == 1
    left = count(installation, "experimental.events", linked)
    assert counts["experimental.events"] == events - left and left in (2, 3)
    assert count(installation, SESSIONS, "user_id = 'alice' AND project_id = 1") == 14


def test_off_by_default_the_device_is_named_and_its_sessions_stay(
    kit: RunnerKit, installation: "Client"
) -> None:
    ch = installation
    config = imported()
    [sessions] = [t for t in config.targets if t.name == SESSIONS]
    assert isinstance(sessions, ClickHouseTargetConfig)
    assert sessions.device_column == "user_uuid" and not sessions.follow_device
    left = {table: count(ch, table, f"session_id IN {LINKED}") for table in WITH_SESSIONS}
    targets = build_targets(config, kit.services.database)
    job_id = kit.schedule("alice", 1)
    kit.worker(kit.runner(batch_size=5, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert {t: count(ch, t, f"session_id IN {LINKED}") for t in WITH_SESSIONS} == left
    assert left[SESSIONS] == 3 and left["experimental.events"] == 3 + 2 * 2


def test_targets_find_takes_the_devices_sessions_for_hers_as_a_job_would(
    installation: "Client",
) -> None:
    [config] = [t for t in imported(follow_device=True).targets if t.name == SESSIONS]
    assert isinstance(config, ClickHouseTargetConfig)
    table = ClickHouseServers().table(config)
    found = clickhouse_session_identities(config, table, 1, "alice")
    assert found.session_ids == {str(s) for s in [*range(1001, 1013), *HERS]}
    assert found.anonymous_ids == {"anon-alice"}


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        ('user_id_column = "user_id"\nfollow_device = true\n', "follow_device goes with"),
        ('sessions_from = "s"\ndevice_column = "d"\n', "device_column belongs on"),
        ('sessions_from = "s"\nfollow_device = true\n', "follow_device goes with"),
    ],
)
def test_follow_device_needs_a_device_column_on_a_target_of_sessions(
    tmp_path: Path, toml: str, complaint: str
) -> None:
    head = (
        '[[targets]]\nkind = "clickhouse"\nname = "s"\nurl = "http://ch:8123/"\n'
        'table = "experimental.sessions"\nuser_id_column = "user_id"\n'
    )
    target = '[[targets]]\nkind = "clickhouse"\nname = "x"\nurl = "http://ch:8123/"\n'
    with pytest.raises(ConfigError, match=f"Target x: {complaint}"):
        load_config(write(tmp_path, head + target + 'table = "e.t"\n' + toml))

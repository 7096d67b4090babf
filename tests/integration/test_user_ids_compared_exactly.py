"""User ids are compared exactly, byte for byte, whatever the column's type or
collation. On columns that compare case-insensitively (PostgreSQL's ``citext``,
SQLite's ``COLLATE NOCASE``, as an installation may declare them), user ``Alice`` is
another person than user ``alice``, and so are their anonymous ids and devices: a job
for alice takes all of hers and nothing of Alice's, its receipt counts hers alone,
and neither the job's remains check nor `targets find` takes Alice's rows for hers.

The installation is on the backend of jobtrail's own database, which runs on both.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.composition import Services
from application.remains import RemainsReport, find_remains
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from infrastructure.database import Database, parse_database_url
from infrastructure.person_target_config import ScrubTargetConfig, ValuesTargetConfig
from infrastructure.remains_search import TargetsRemains
from infrastructure.session_store import SqlUserSessions
from infrastructure.target_config import SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.runner_support import RunnerKit
from tests.sql_installation import Installation, installed

ALICE = "alice"
PROJECT = 1

SESSIONS = [
    # (session, user, anonymous id, device); every text column compares case-insensitively
    (1, "alice", "anon-alice", "dev-alice"),
    (2, "alice", "anon-family", "dev-family"),
    (3, "Alice", "ANON-ALICE", "DEV-ALICE"),  # another person, on her own laptop
    (4, "Alice", "anon-family", "dev-family"),  # ... and on the family tablet
    (5, "ALICE", "anon-caps", "dev-caps"),  # a third person
    (6, None, "anon-alice", "dev-alice"),  # alice before she logged in: followed
    (7, None, "anon-family", "dev-family"),  # the tablet Alice used too: nobody's alone
    (8, None, "ANON-ALICE", "DEV-ALICE"),  # Alice before she logged in
]
ALICES_SESSIONS = {1, 2, 6}

AUTOCOMPLETE = [
    # (value, type, alice's?)
    ("alice", "USERID", True),
    ("Alice", "USERID", False),
    ("ALICE", "USERID", False),
    ("anon-alice", "USERANONYMOUSID", True),
    ("ANON-ALICE", "USERANONYMOUSID", False),
    ("anon-family", "USERANONYMOUSID", False),  # Alice's sessions carry it too
]

NOTES = [
    # A table without a primary key: a scrubbed row is written back by its old text.
    ("Called alice back", f"Called {FORGOTTEN} back"),
    ("Called Alice back", "Called Alice back"),
]


EVERY_ROW = {
    "sessions": "SELECT session_id, user_id, user_anonymous_id, user_uuid FROM sessions",
    "events": "SELECT event_id, session_id FROM events",
    "autocomplete": "SELECT value, type FROM autocomplete",
    "notes": "SELECT body FROM notes",
}


def load(installation: Installation, folding: str) -> None:
    """``folding``: the type of a text column that compares case-insensitively."""
    for ddl in [
        "CREATE TABLE sessions (session_id BIGINT PRIMARY KEY, project_id INTEGER NOT NULL, "
        f"user_id {folding}, user_anonymous_id {folding}, user_uuid {folding} NOT NULL, "
        "start_ts BIGINT NOT NULL)",
        # The user's index answers in the column's own collation.
        "CREATE INDEX sessions_user ON sessions (project_id, user_id)",
        "CREATE TABLE events (event_id INTEGER PRIMARY KEY, "
        "session_id BIGINT NOT NULL REFERENCES sessions (session_id), label TEXT)",
        f"CREATE TABLE autocomplete (value {folding} NOT NULL, type TEXT NOT NULL, "
        "project_id INTEGER NOT NULL)",
        f"CREATE TABLE notes (project_id INTEGER NOT NULL, body {folding} NOT NULL)",
    ]:
        installation.execute(ddl)
    installation.execute(
        "INSERT INTO sessions VALUES (:s, :p, :u, :a, :d, :s)",
        [{"s": s, "p": PROJECT, "u": u, "a": a, "d": d} for s, u, a, d in SESSIONS],
    )
    installation.execute(
        "INSERT INTO events VALUES (:s, :s, 'click')", [{"s": s} for s, *_ in SESSIONS]
    )
    installation.execute(
        "INSERT INTO autocomplete VALUES (:v, :t, :p)",
        [{"v": v, "t": t, "p": PROJECT} for v, t, _ in AUTOCOMPLETE],
    )
    installation.execute(
        "INSERT INTO notes VALUES (:p, :b)", [{"p": PROJECT, "b": b} for b, _ in NOTES]
    )


@pytest.fixture
def installation(services: Services, tmp_path: Path) -> Iterator[Installation]:
    with installed(services.database.backend, tmp_path) as made:
        if made.backend == "sqlite":
            load(made, "TEXT COLLATE NOCASE")
        else:
            made.execute("CREATE EXTENSION citext")
            load(made, "CITEXT")
        yield made


def targets_config(installation: Installation) -> TargetsConfig:
    url = installation.url
    return TargetsConfig(
        batch_size=2,
        targets=[
            ValuesTargetConfig(
                name="autocomplete",
                table="autocomplete",
                url=url,
                type_column="type",
                user_id_types=["USERID"],
                anonymous_id_types=["USERANONYMOUSID"],
                identities_from="sessions",
            ),
            ScrubTargetConfig(
                name="notes",
                table="notes",
                url=url,
                text_columns=["body"],
                identities_from="sessions",
            ),
            SqlTargetConfig(name="events", table="events", url=url, sessions_from="sessions"),
            SqlTargetConfig(
                name="sessions",
                table="sessions",
                url=url,
                id_column="session_id",
                anonymous_id_column="user_anonymous_id",
                device_column="user_uuid",
                follow_device=True,
            ),
        ],
    )


def search(kit: RunnerKit, installation: Installation) -> RemainsReport:
    config = targets_config(installation)
    targets = build_targets(config, kit.services.database)
    check_targets(targets)
    searcher = TargetsRemains(config, kit.services.database, targets)
    try:
        return find_remains(searcher, PROJECT, ALICE)
    finally:
        searcher.close()


def test_a_job_for_alice_takes_all_of_hers_and_nothing_of_Alices_and_counts_hers_alone(
    kit: RunnerKit, installation: Installation
) -> None:
    before = installation.rows(EVERY_ROW)
    targets = build_targets(targets_config(installation), kit.services.database)
    check_targets(targets)

    job_id = kit.schedule(ALICE, PROJECT)
    kit.worker(kit.runner(batch_size=2, targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, PROJECT, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(PROJECT, job_id) == {
        "autocomplete": 2,
        "notes": 1,
        "events": 3,
        "sessions": 3,
    }
    assert installation.rows(EVERY_ROW) == {
        "sessions": {row for row in before["sessions"] if row[0] not in ALICES_SESSIONS},
        "events": {row for row in before["events"] if row[1] not in ALICES_SESSIONS},
        "autocomplete": {(v, t) for v, t, hers in AUTOCOMPLETE if not hers},
        "notes": {(after,) for _, after in NOTES},
    }


def test_targets_find_counts_alices_rows_alone_and_after_her_job_finds_nothing(
    kit: RunnerKit, installation: Installation
) -> None:
    report = search(kit, installation)
    assert {(p.location, p.count, p.covered_by) for p in report.findings.places} == {
        ("autocomplete", 2, "autocomplete"),
        ("notes", 1, "notes"),
        ("events", 3, "events"),
        ("sessions", 3, "sessions"),
        (f"{'' if installation.backend == 'sqlite' else 'public.'}notes.body", 1, "notes"),
    }
    assert report.identities == {
        "userIds": 1,
        "anonymousIds": 1,  # anon-alice: not ANON-ALICE, and anon-family is shared
        "sessionIds": 3,
        "sharedAnonymousIds": 1,
    }

    targets = build_targets(targets_config(installation), kit.services.database)
    job_id = kit.schedule(ALICE, PROJECT)
    kit.worker(kit.runner(batch_size=2, targets=[*targets])).run_due_jobs()
    assert job_now(kit.services, PROJECT, job_id).status == JobStatus.COMPLETED

    assert search(kit, installation).nothing_left  # Alice's rows are still there


def test_the_sessions_listed_for_alice_are_hers_alone(installation: Installation) -> None:
    database = Database(parse_database_url(installation.url))
    schema = "main" if database.backend == "sqlite" else "public"
    try:
        sessions = SqlUserSessions(database, "sessions", schema)
        listed = sessions.of_user(PROJECT, ALICE, None, None, 100, 0)
    finally:
        database.dispose()
    assert sorted(int(s.session_id) for s in listed) == [1, 2]

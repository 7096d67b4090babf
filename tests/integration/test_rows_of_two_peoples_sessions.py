"""A child table's row that refers to two people's sessions is both people's: a job
for one never deletes it with their data. A row of bob's session that refers to
alice's session through a key that may be NULL (a second key to the sessions, or a
key to a row of her session) is detached from hers, that key set to NULL, and
counted apart on her receipt; the rows that refer to it stay with it. One that
refers to her session through a key that may not be NULL fails her job, naming the
table, and nothing is deleted.

The installation is on the backend of jobtrail's own database, which runs on both.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.target_config import SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.runner_support import RunnerKit
from tests.sql_installation import Installation, installed

ALICE, BOB, CAROL = "alice", "bob", "carol"
SESSIONS = {1: ALICE, 2: ALICE, 3: BOB, 4: BOB, 5: CAROL}
ALICES = {1, 2}

SCHEMA = [
    "CREATE TABLE sessions (session_id BIGINT PRIMARY KEY, project_id INTEGER NOT NULL, "
    "user_id TEXT)",
    # A link belongs to its session, and may point at another session.
    "CREATE TABLE session_links (link_id INTEGER PRIMARY KEY, "
    "session_id BIGINT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE, "
    "linked_session_id BIGINT NULL REFERENCES sessions (session_id) ON DELETE SET NULL)",
    "CREATE TABLE notes (note_id INTEGER PRIMARY KEY, "
    "session_id BIGINT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE)",
    # A reply belongs to its session, and may answer a note of another session.
    "CREATE TABLE replies (reply_id INTEGER PRIMARY KEY, "
    "session_id BIGINT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE, "
    "note_id INTEGER NULL REFERENCES notes (note_id) ON DELETE SET NULL)",
    "CREATE TABLE reactions (reaction_id INTEGER PRIMARY KEY, "
    "link_id INTEGER NOT NULL REFERENCES session_links (link_id) ON DELETE CASCADE)",
]
LINKS = [
    # (link, its session, the session it points at)
    (1, 1, 2),  # alice's, to her own other session: goes
    (2, 1, None),  # alice's: goes
    (3, 3, 1),  # bob's, pointing at alice's session: stays, detached from hers
    (4, 3, 5),  # bob's, to carol's
    (5, 4, None),
]
REACTIONS = [(n, n) for n, *_ in LINKS]  # (reaction, its link): one to each link
NOTES = [(1, 1), (2, 3), (3, 2)]  # (note, its session): alice's 1 and 3, bob's 2
REPLIES = [
    # (reply, its session, the note it answers)
    (1, 1, 1),  # alice's, to her own note: goes
    (2, 3, 1),  # bob's, to alice's note: stays, detached from it
    (3, 3, 2),  # bob's, to his own note
    (4, 5, 3),  # carol's, to alice's other note: stays, detached from it
]
EVERY_ROW = {
    "sessions": "SELECT session_id, user_id FROM sessions",
    "links": "SELECT link_id, session_id, linked_session_id FROM session_links",
    "notes": "SELECT note_id, session_id FROM notes",
    "replies": "SELECT reply_id, session_id, note_id FROM replies",
    "reactions": "SELECT reaction_id, link_id FROM reactions",
}
TARGETS = TargetsConfig(
    batch_size=10,
    targets=[
        SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
        SqlTargetConfig(name="links", table="session_links", sessions_from="sessions"),
        SqlTargetConfig(
            name="links to sessions",
            table="session_links",
            sessions_from="sessions",
            session_column="linked_session_id",
        ),
        SqlTargetConfig(name="notes", table="notes", sessions_from="sessions"),
        SqlTargetConfig(name="replies", table="replies", sessions_from="sessions"),
        SqlTargetConfig(
            name="replies to notes",
            table="replies",
            sessions_from="notes",
            session_column="note_id",
        ),
        # A link's reactions, whichever of its keys finds the link.
        SqlTargetConfig(
            name="reactions", table="reactions", sessions_from="links", session_column="link_id"
        ),
        SqlTargetConfig(
            name="reactions to linked sessions",
            table="reactions",
            sessions_from="links to sessions",
            session_column="link_id",
        ),
    ],
)


@pytest.fixture
def installation(services: Services, tmp_path: Path) -> Iterator[Installation]:
    with installed(services.database.backend, tmp_path) as made:
        for ddl in SCHEMA:
            made.execute(ddl)
        made.execute(
            "INSERT INTO sessions VALUES (:s, 1, :u)",
            [{"s": s, "u": u} for s, u in SESSIONS.items()],
        )
        made.execute(
            "INSERT INTO session_links VALUES (:l, :s, :o)",
            [{"l": link, "s": s, "o": other} for link, s, other in LINKS],
        )
        made.execute(
            "INSERT INTO reactions VALUES (:r, :l)", [{"r": r, "l": link} for r, link in REACTIONS]
        )
        made.execute("INSERT INTO notes VALUES (:n, :s)", [{"n": n, "s": s} for n, s in NOTES])
        made.execute(
            "INSERT INTO replies VALUES (:r, :s, :n)",
            [{"r": r, "s": s, "n": n} for r, s, n in REPLIES],
        )
        yield made


def alices_job(kit: RunnerKit, installation: Installation) -> int:
    """Her job, run by a worker to its end, against the installation's tables."""
    config = TargetsConfig(
        batch_size=TARGETS.batch_size,
        targets=[replace(target, url=installation.url) for target in TARGETS.targets],
    )
    targets = build_targets(config, kit.services.database)
    check_targets(targets)
    job_id = kit.schedule(ALICE, 1)
    kit.worker(kit.runner(batch_size=TARGETS.batch_size, targets=[*targets])).run_due_jobs()
    return job_id


def test_rows_of_others_sessions_that_refer_to_hers_by_a_nullable_key_are_detached_not_deleted(
    kit: RunnerKit, installation: Installation
) -> None:
    job_id = alices_job(kit, installation)

    assert job_now(kit.services, 1, job_id).status == JobStatus.COMPLETED
    assert installation.rows(EVERY_ROW) == {
        "sessions": {(s, u) for s, u in SESSIONS.items() if s not in ALICES},
        "links": {(3, 3, None), (4, 3, 5), (5, 4, None)},
        "notes": {(2, 3)},
        "replies": {(2, 3, None), (3, 3, 2), (4, 5, None)},
        "reactions": {(3, 3), (4, 4), (5, 5)},  # the detached link keeps its reactions
    }
    # Each child deletes, deepest first, what its own key finds of her sessions: her
    # reply to her own note goes with the note. What was detached is counted apart.
    assert kit.services.history.receipt(1, job_id) == {
        "sessions": 2,
        "links": 2,
        "links to sessions": 0,
        "links to sessions (detached)": 1,
        "notes": 2,
        "replies": 0,
        "replies to notes": 1,
        "replies to notes (detached)": 2,
        "reactions": 2,
        "reactions to linked sessions": 0,
    }


@pytest.mark.parametrize(
    ("table", "row"),
    [
        # Her session's link, pointing at bob's session: bob's too, and its key to
        # her session may not be NULL.
        ("session_links", "INSERT INTO session_links VALUES (6, 1, 4)"),
        # Her session's reply to bob's note.
        ("replies", "INSERT INTO replies VALUES (5, 2, 2)"),
    ],
)
def test_a_row_that_cannot_be_detached_from_her_session_fails_her_job_and_nothing_goes(
    kit: RunnerKit, installation: Installation, table: str, row: str
) -> None:
    installation.execute(row)
    before = installation.rows(EVERY_ROW)

    job_id = alices_job(kit, installation)

    job = job_now(kit.services, 1, job_id)
    assert job.status == JobStatus.FAILED
    assert job.errors is not None
    assert f"table {table} " in job.errors and "another person's session" in job.errors
    assert "cannot be NULL" in job.errors
    assert installation.rows(EVERY_ROW) == before

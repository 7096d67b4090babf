"""A scrub job for user ``alice`` beside other people's ids that hold hers, written
percent-encoded (a saved search's URL) or with a letter of another script: a real
job on both backends changes only the rows that name her, and counts them."""

from pathlib import Path

from sqlalchemy import text

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.person_target_config import ScrubTargetConfig
from infrastructure.target_config import TargetsConfig
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now
from tests.runner_support import runner_kit

NOTES = [
    # (note, project, body, hers?)
    ("n1", 1, "opened /search?user=alice&page=2", True),
    ("n2", 1, "opened /search?user=alice%40example.com&page=2", False),
    ("n3", 1, "opened /search?user=alice%2Esmith", False),
    ("n4", 1, "assigned to aliceé", False),
    ("n5", 1, "opened /search?filter=user%3Dalice%26page%3D2", True),
]


def test_a_scrub_job_leaves_other_peoples_encoded_ids_that_hold_the_persons(
    services: Services, tmp_path: Path
) -> None:
    with services.database.writer() as conn:
        conn.execute(
            text("CREATE TABLE notes (note_id TEXT PRIMARY KEY, project_id INTEGER, body TEXT)")
        )
        for note, project, body, _ in NOTES:
            conn.execute(
                text("INSERT INTO notes VALUES (:n, :p, :b)"), {"n": note, "p": project, "b": body}
            )
    config = TargetsConfig(
        batch_size=2,
        targets=[ScrubTargetConfig(name="notes", table="notes", text_columns=["body"])],
    )
    targets = build_targets(config, services.database)
    check_targets(targets)
    kit = runner_kit(services, tmp_path)
    job_id = kit.schedule("alice", project_id=1)
    kit.worker(kit.runner(batch_size=2, targets=[*targets])).run_due_jobs()

    assert job_now(services, 1, job_id).status == JobStatus.COMPLETED
    assert services.history.receipt(1, job_id) == {"notes": 2}
    with services.database.reader() as conn:
        left = {note: body for note, body in conn.execute(text("SELECT note_id, body FROM notes"))}
    assert left == {
        "n1": "opened /search?user=[forgotten]&page=2",
        "n2": NOTES[1][2],
        "n3": NOTES[2][2],
        "n4": NOTES[3][2],
        "n5": "opened /search?filter=user%3D[forgotten]%26page%3D2",
    }


def test_a_scrub_job_for_a_user_named_like_the_marker_ends_and_leaves_other_markers(
    services: Services, tmp_path: Path
) -> None:
    with services.database.writer() as conn:
        conn.execute(
            text("CREATE TABLE notes (note_id TEXT PRIMARY KEY, project_id INTEGER, body TEXT)")
        )
        conn.execute(
            text(
                "INSERT INTO notes VALUES ('n1', 1, 'locked for forgotten'),"
                " ('n2', 1, 'bob was [forgotten] today')"
            )
        )
    config = TargetsConfig(
        batch_size=2,
        targets=[ScrubTargetConfig(name="notes", table="notes", text_columns=["body"])],
    )
    kit = runner_kit(services, tmp_path)
    job_id = kit.schedule("forgotten", project_id=1)
    kit.worker(
        kit.runner(batch_size=2, targets=[*build_targets(config, services.database)])
    ).run_due_jobs()

    assert job_now(services, 1, job_id).status == JobStatus.COMPLETED
    assert services.history.receipt(1, job_id) == {"notes": 1}
    with services.database.reader() as conn:
        left = {note: body for note, body in conn.execute(text("SELECT note_id, body FROM notes"))}
    assert left == {"n1": "locked for [forgotten]", "n2": "bob was [forgotten] today"}

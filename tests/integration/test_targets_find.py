"""`targets find` on a small installation, on both backends of jobtrail's own store
(the installation on the same backend): every place the person still appears,
whether a target covers it, nothing of another project's same-named user; after a
job, the answer kept on the job for the auditor."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from api.composition import Services, build_services
from application.audit import compare, refold_all
from application.proof import prove
from application.remains import RemainsReport, find_remains, record_search
from domain.lifecycle import JobStatus
from infrastructure.remains_search import TargetsRemains
from infrastructure.session_store import seed_sessions
from infrastructure.settings import Settings
from infrastructure.target_config import (
    FilesTargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    load_config,
)
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now, postgres_admin_url
from tests.remains_installation import (
    ALICE,
    ALICE_DEVICE,
    ALICE_SESSIONS,
    OTHER,
    SHARED_DEVICE,
    WEB,
    Installation,
    installation,
)
from tests.runner_support import RunnerKit
from tests.scheduling import SchedulingCommands


@pytest.fixture
def place(services: Services, database_url: str, tmp_path: Path) -> Iterator[Installation]:
    with installation(services.database.backend, tmp_path) as made:
        yield made


def search(
    kit: RunnerKit, made: Installation, project_id: int = WEB, **config: bool
) -> RemainsReport:
    targets_file = made.recordings.parent / "targets.toml"
    targets_file.write_text(made.config(**config))
    loaded = load_config(str(targets_file))
    targets = build_targets(loaded, kit.services.database)
    check_targets(targets)
    searcher = TargetsRemains(loaded, kit.services.database, targets)
    try:
        return find_remains(searcher, project_id, ALICE)
    finally:
        searcher.close()


def places(report: RemainsReport) -> set[tuple[str, int, str | None]]:
    """Where, how many, covered by; PostgreSQL's schema.table.column as SQLite's
    table.column."""
    return {(unqualified(p.location), p.count, p.covered_by) for p in report.findings.places}


def unqualified(location: str) -> str:
    return location.split(".", 1)[1] if location.count(".") == 2 else location


def run_job(kit: RunnerKit, made: Installation, **config: bool) -> int:
    targets_file = made.recordings.parent / "targets.toml"
    targets_file.write_text(made.config(**config))
    targets = build_targets(load_config(str(targets_file)), kit.services.database)
    job_id = kit.schedule(ALICE, WEB)
    kit.worker(kit.runner(targets=[*targets])).run_due_jobs()
    assert job_now(kit.services, WEB, job_id).status == JobStatus.COMPLETED
    return job_id


def test_every_place_that_holds_the_person_is_found_and_said_to_be_covered_or_not(
    kit: RunnerKit, place: Installation
) -> None:
    report = search(kit, place)
    assert places(report) == {
        # What the targets themselves would still delete, by their own rules (her
        # user id, her own device's id and her sessions' keys are in the columns
        # they read; carol's anonymous id that is alice's text is not hers).
        ("sessions", 2, "sessions"),
        ("events", 3, "events"),
        # Text that names her: in sessions (hers, and bob's, which the sessions
        # target will not take: covered only while it still counts rows of hers)...
        ("sessions.metadata", 2, "sessions"),
        # ... in an event of hers (a table without a project column, read through
        # its sessions: the other project's event naming alice is not hers)...
        ("events.label", 1, "events"),
        # ... a grouped error naming her, and one naming her device...
        ("errors.message", 2, None),
        ("errors.payload", 1, None),
        # ... and a note, in a table without a project column.
        ("notes.body", 1, None),
        ("{projectId}/{sessionId}", 2, "recordings"),
    }
    any_project = {unqualified(p.location) for p in report.findings.places if p.any_project}
    assert any_project == {"notes.body"}
    assert report.identities == {
        "userIds": 1,
        "anonymousIds": 1,
        "sessionIds": 2,
        "sharedAnonymousIds": 1,  # the family tablet: bob's sessions carry it too
    }
    assert report.findings.searched == {
        "targets": 3,
        "databases": 1,
        "columns": 5,  # sessions.metadata, events.label, errors' two, notes.body
        "targetColumns": 4,  # user_id, user_anonymous_id, and each session_id
        "objectPatterns": 1,
    }
    shown = repr(report.findings)
    for value in (ALICE, ALICE_DEVICE, SHARED_DEVICE, *map(str, ALICE_SESSIONS)):
        assert value not in shown


def test_the_same_user_id_in_another_project_is_another_person(
    kit: RunnerKit, place: Installation
) -> None:
    other = places(search(kit, place, project_id=OTHER))
    # One session and its event and recording; the WEB project's errors are not hers.
    assert ("errors.message", 1, None) in other and ("sessions", 1, "sessions") in other
    assert ("events", 1, "events") in other and ("events.label", 1, "events") in other
    # A project she is not in: only the table without a project column, said so.
    nowhere = search(kit, place, project_id=99).findings.places
    assert [(unqualified(p.location), p.any_project) for p in nowhere] == [("notes.body", True)]


def test_after_a_job_the_uncovered_text_is_still_found_and_kept_on_the_job(
    kit: RunnerKit, place: Installation
) -> None:
    job_id = run_job(kit, place)
    ended = job_now(kit.services, WEB, job_id)

    report = search(kit, place)
    # Her sessions are gone, and with them what said which device was hers: only
    # her user id is left to search for.
    assert places(report) == {
        ("errors.message", 1, None),
        ("errors.payload", 1, None),
        ("notes.body", 1, None),
        ("sessions.metadata", 1, None),  # bob's: nothing will take it now
    }
    assert report.identities["sessionIds"] == 0

    kept_on = record_search(kit.services.log, kit.services.commands, WEB, ALICE, report)
    assert kept_on == job_id
    [proven] = prove(kit.services.log, ALICE, [WEB])
    assert proven.last_search is not None
    assert list(proven.last_search.places) == report.findings.places
    # An account, not a change: the job reads as it did, and the read model agrees.
    kit.services.projector.catch_up()
    assert job_now(kit.services, WEB, job_id) == ended
    assert not list(compare(refold_all(kit.services.log), kit.services.read_model.every_job()))


def test_after_a_job_that_covers_every_place_nothing_is_found_and_prove_says_so(
    kit: RunnerKit, place: Installation
) -> None:
    assert places(search(kit, place, scrub_shared_text=True)) >= {("errors.message", 2, "errors")}
    job_id = run_job(kit, place, scrub_shared_text=True)

    report = search(kit, place, scrub_shared_text=True)

    assert report.nothing_left and report.findings.places == []
    assert record_search(kit.services.log, kit.services.commands, WEB, ALICE, report) == job_id
    [proven] = prove(kit.services.log, ALICE, [WEB])
    assert proven.last_search is not None and proven.last_search.nothing_left
    # Everyone else's rows are where they were.
    assert place.count("SELECT count(*) FROM sessions") == 3
    assert place.count("SELECT count(*) FROM errors") == 5
    assert place.count("SELECT count(*) FROM notes WHERE body = 'Nobody called'") == 1


def test_a_search_while_the_job_may_still_delete_is_not_kept(
    kit: RunnerKit, place: Installation
) -> None:
    report = search(kit, place)
    assert record_search(kit.services.log, kit.services.commands, WEB, ALICE, report) is None
    kit.schedule(ALICE, WEB)
    assert record_search(kit.services.log, kit.services.commands, WEB, ALICE, report) is None
    [proven] = prove(kit.services.log, ALICE, [WEB])
    assert proven.last_search is None


@pytest.fixture
def own_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of jobtrail's own, alone in it (on PostgreSQL, in a schema of a
    database made for the test: every schema of it is searched)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    name = f"own_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_admin_url().rsplit("/", 1)[0] + f"/{name}?schema=jobtrail"
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_jobtrails_own_tables_are_its_record_and_not_searched(
    own_database: str, tmp_path: Path
) -> None:
    services = build_services(Settings(database_url=own_database, deletion_delay=timedelta(0)))
    try:
        seed_sessions(services.database, WEB, [ALICE, "bob"], 3, None)
        # Her job names her in jobtrail's own tables (the read model's row).
        SchedulingCommands.of(services).schedule_user_deletion(WEB, ALICE, "key:k1")
        recordings = tmp_path / "recordings"
        recordings.mkdir()
        config = TargetsConfig(
            targets=[
                SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
                FilesTargetConfig(
                    name="recordings",
                    directory=str(recordings),
                    pattern="{projectId}/{sessionId}",
                    sessions_from="sessions",
                ),
            ]
        )
        targets = build_targets(config, services.database)
        report = find_remains(TargetsRemains(config, services.database, targets), WEB, ALICE)
    finally:
        services.close()
    assert places(report) == {("sessions", 3, "sessions")}
    assert report.findings.searched["columns"] > 0

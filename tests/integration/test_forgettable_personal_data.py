"""Forgettable personal data: the proof of a deletion is kept, the person is not.

Each test runs on SQLite and on PostgreSQL, and looks at what a thief of the
database would see: the SQLite file and its write-ahead log, or a pg_dump.
"""

import logging
import subprocess
import threading
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from api.composition import Services, build_services
from application.audit import compare, refold_all
from application.forgetting import ForgetReport, Forgetting
from application.projection_check import fold_projection
from application.proof import prove
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from infrastructure.audit_export import export_lines
from infrastructure.chain import verify_chain
from infrastructure.rebuild import Rebuild
from infrastructure.session_store import seed_sessions
from infrastructure.sessions import sessions
from infrastructure.settings import Settings
from infrastructure.target_config import FilesTargetConfig, TargetsConfig
from infrastructure.targets import build_targets
from tests.conftest import job_now
from tests.runner_support import T0, RunnerKit, forgetting_at, runner_kit
from tests.scheduling import SchedulingCommands
from tests.waiting import eventually

FORGOTTEN_USER = "forget-me.7d1f@example.com"
CONTROL_USER = "keep-me.93ab@example.com"
FORGET_AFTER = timedelta(days=30)


def holds(services: Services, text: str) -> bool:
    """Whether a thief with a copy of the database could read ``text`` in it: in
    its files (SQLite), or in a dump (PostgreSQL; binary columns, the log's events
    among them, are dumped as hex, so that is looked for too)."""
    raw, data = database_bytes(services), text.encode()
    return data in raw or data.hex().encode() in raw


def database_bytes(services: Services) -> bytes:
    """Everything the database holds: the SQLite file and its write-ahead log, or
    pg_dump's output."""
    file = services.database.url.sqlite_file
    if file is not None:
        wal = file.with_name(file.name + "-wal")
        return file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    url = urllib.parse.urlsplit(services.settings.database_url)
    schema = urllib.parse.parse_qs(url.query)["schema"][0]
    dump = subprocess.run(
        [
            *["pg_dump", "-h", url.hostname or "", "-p", str(url.port or 5432)],
            *["-U", url.username or "", "-n", schema, url.path.lstrip("/")],
        ],
        check=True,
        capture_output=True,
    )
    return dump.stdout


def forgetting(kit: RunnerKit, days_later: float) -> Forgetting:
    return forgetting_at(kit.services, T0 + timedelta(days=days_later), FORGET_AFTER)


def completed_deletion(kit: RunnerKit, user_id: str) -> int:
    seed_sessions(kit.services.database, 1, [user_id], 25, kit.recordings)
    job_id = kit.schedule(user_id)
    kit.worker(kit.runner()).run_due_jobs()
    view = job_now(kit.services, 1, job_id)
    assert view.status == JobStatus.COMPLETED
    return job_id


def test_a_completed_and_forgotten_user_leaves_no_byte_of_their_id_behind(
    kit: RunnerKit,
) -> None:
    services = kit.services
    forgotten_job = completed_deletion(kit, FORGOTTEN_USER)
    kit.clock.advance(timedelta(days=29))
    control_job = kit.schedule(CONTROL_USER)  # requested later, still active
    assert holds(services, FORGOTTEN_USER)  # the read model shows it

    report = forgetting(kit, days_later=31).forget_due()

    assert report == ForgetReport(users=1, jobs=1, keys=1)
    assert not holds(services, FORGOTTEN_USER)
    assert holds(services, CONTROL_USER)
    assert job_now(services, 1, control_job).reference_id == CONTROL_USER
    forgotten = job_now(services, 1, forgotten_job)
    assert forgotten.reference_id == FORGOTTEN
    assert forgotten.description == f"Delete user sessions of userId = {FORGOTTEN}"
    assert forgotten.status == JobStatus.COMPLETED


def test_after_forgetting_the_receipt_times_and_statuses_are_kept(kit: RunnerKit) -> None:
    services = kit.services
    job_id = completed_deletion(kit, FORGOTTEN_USER)
    before = job_now(services, 1, job_id)
    receipt = services.history.receipt(1, job_id)

    forgetting(kit, days_later=31).forget_due()

    after = job_now(services, 1, job_id)
    assert (after.created_at, after.start_at, after.status) == (
        before.created_at,
        before.start_at,
        before.status,
    )
    assert services.history.receipt(1, job_id) == receipt == {"sessions": 25, "recordings": 25}
    events = [event.type for event in services.history.events(1, job_id)]
    assert events[0] == "Scheduled" and events[-1] == "PersonalDataForgotten"
    scheduled = services.history.events(1, job_id)[0]
    assert scheduled.data["referenceId"] == FORGOTTEN
    assert services.history.as_of(1, job_id, version=1).reference_id == FORGOTTEN


def test_every_check_of_the_log_passes_after_forgetting(kit: RunnerKit) -> None:
    services = kit.services
    completed_deletion(kit, FORGOTTEN_USER)
    kit.schedule(CONTROL_USER)
    forgetting(kit, days_later=31).forget_due()
    services.projector.catch_up()

    assert verify_chain(services.log, services.database).intact
    exported = b"".join(export_lines(services.log, services.database))
    assert FORGOTTEN_USER.encode() not in exported and FORGOTTEN.encode() in exported
    assert CONTROL_USER.encode() in exported  # still active: its id is still readable
    assert list(compare(refold_all(services.log), services.read_model.every_job())) == []
    projected = fold_projection(services.log, services.log.head())
    assert list(compare(projected, services.read_model.every_job())) == []
    before = list(services.read_model.every_job())
    Rebuild(services.log, services.database, batch_size=3).run()
    assert list(services.read_model.every_job()) == before


def test_a_proof_finds_a_forgotten_users_jobs_and_refuses_a_stranger(kit: RunnerKit) -> None:
    services = kit.services
    job_id = completed_deletion(kit, FORGOTTEN_USER)
    [before] = prove(services.log, FORGOTTEN_USER, [1])
    assert (before.job.job_id, before.forgotten) == (job_id, False)

    forgetting(kit, days_later=31).forget_due()

    [after] = prove(services.log, FORGOTTEN_USER, [1])
    assert (after.job.job_id, after.forgotten) == (job_id, True)
    assert after.job.status == JobStatus.COMPLETED
    assert after.receipt == before.receipt == {"sessions": 25, "recordings": 25}
    assert prove(services.log, "stranger@example.com", [1]) == []
    assert prove(services.log, FORGOTTEN_USER, [2]) == []  # the same id in another project


def test_a_new_request_for_a_forgotten_user_makes_a_new_job_that_can_run(
    kit: RunnerKit,
) -> None:
    services = kit.services
    first = completed_deletion(kit, FORGOTTEN_USER)
    forgetting(kit, days_later=31).forget_due()
    kit.clock.advance(timedelta(days=32))

    second = completed_deletion(kit, FORGOTTEN_USER)

    assert second != first
    assert job_now(services, 1, second).reference_id == FORGOTTEN_USER
    assert [p.job.job_id for p in prove(services.log, FORGOTTEN_USER, [1])] == [first, second]
    again = kit.commands.schedule_user_deletion(1, FORGOTTEN_USER, "key:test").job
    assert again.job_id not in (first, second)
    # One active deletion per user holds across forgetting: asking again returns it.
    assert kit.commands.schedule_user_deletion(1, FORGOTTEN_USER, "k").job.job_id == again.job_id


def test_a_user_is_not_forgotten_while_a_job_is_active_or_recent(kit: RunnerKit) -> None:
    services = kit.services
    completed_deletion(kit, FORGOTTEN_USER)
    kit.clock.advance(timedelta(days=20))
    completed_deletion(kit, FORGOTTEN_USER)  # the same user again, twenty days later

    assert forgetting(kit, days_later=31).forget_due() == ForgetReport()
    assert forgetting(kit, days_later=49).forget_due() == ForgetReport()
    report = forgetting(kit, days_later=51).forget_due()

    assert report == ForgetReport(users=1, jobs=2, keys=1)
    assert all(p.forgotten for p in prove(services.log, FORGOTTEN_USER, [1]))
    active = kit.schedule(CONTROL_USER)
    assert forgetting(kit, days_later=400).forget_due() == ForgetReport()
    assert job_now(services, 1, active).reference_id == CONTROL_USER


def test_a_job_whose_key_is_gone_fails_and_deletes_nothing(kit: RunnerKit, tmp_path: Path) -> None:
    services = kit.services
    seed_sessions(services.database, 1, [FORGOTTEN_USER], 5, kit.recordings)
    seed_sessions(services.database, 1, [FORGOTTEN], 5, kit.recordings)
    job_id = kit.schedule(FORGOTTEN_USER)
    job = services.log.job(job_id)
    assert job is not None
    services.log.vault.destroy([(job.subject, job.key_generation)])  # type: ignore[attr-defined]

    elsewhere = build_services(services.settings)  # a worker that never saw the key
    try:
        another = runner_kit(elsewhere, tmp_path)
        another.worker(another.runner()).run_due_jobs()
    finally:
        elsewhere.close()

    failed = job_now(services, 1, job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.errors is not None and "cannot be read" in failed.errors
    assert kit.session_count(FORGOTTEN) == 5
    assert kit.session_count(FORGOTTEN_USER) == 5


def test_a_running_worker_forgets_on_its_own(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=database_url,
        deletion_delay=timedelta(0),
        forget_after=timedelta(0),
        forget_interval=0.05,
        config_path=None,
    )
    services = build_services(settings)
    stopping = threading.Event()
    try:
        job_id = (
            SchedulingCommands.of(services)
            .schedule_user_deletion(1, FORGOTTEN_USER, "key:k")
            .job.job_id
        )
        services.commands.cancel(1, job_id, "key:k")
        worker = services.worker(stopping)
        thread = threading.Thread(target=worker.run_until_stopped, args=(0.05,))
        thread.start()
        try:
            eventually(
                lambda: job_now(services, 1, job_id).reference_id == FORGOTTEN,
                10,
                "the worker's round of forgetting",
            )
        finally:
            stopping.set()
            thread.join()
        assert not holds(services, FORGOTTEN_USER)
    finally:
        services.close()


def test_a_key_already_stored_for_a_new_user_is_used_not_overwritten(
    services: Services,
) -> None:
    """A key left by an append that failed (or made by a racing writer) makes this
    append conflict; the retry seals with the stored key, so the job stays readable."""
    vault = services.log.vault  # type: ignore[attr-defined]
    subject = services.log.subject_of(1, "orphan@example.com")
    vault.provide([(subject, 0)])
    vault.forget_cached([(subject, 0)])  # as if another process had made it

    job = (
        SchedulingCommands.of(services).schedule_user_deletion(1, "orphan@example.com", "key:k").job
    )

    elsewhere = build_services(services.settings)  # no key in its cache
    try:
        stored = elsewhere.log.job(job.job_id)
        assert stored is not None and stored.reference_id == "orphan@example.com"
    finally:
        elsewhere.close()


def test_two_appends_making_a_key_for_one_new_user_each_seal_with_their_own(
    services: Services,
) -> None:
    """Two writers both open the same new user's ledger: each seals with the key it
    will store, and no reader meets a key before it is stored, so whichever append
    wins leaves a job that opens (once, the loser's key replaced the winner's in a
    shared cache, and the winner sealed with a key it never stored)."""
    vault = services.log.vault  # type: ignore[attr-defined]
    ref = (services.log.subject_of(1, "twin@example.com"), 0)
    (winner,) = vault.propose([ref])
    (loser,) = vault.propose([ref])
    assert not vault.is_cached(ref)
    with vault.stored_with_next_append([winner]):
        with pytest.raises(RuntimeError), vault.stored_with_next_append([loser]):
            raise RuntimeError("the loser's append conflicted")
        sealed = vault.seal(ref, b"aad", b"twin@example.com")
        assert not vault.is_cached(ref)  # not stored yet: no reader meets it
    assert vault.open(ref, b"aad", sealed) == b"twin@example.com"
    assert vault.collided(ref)


def test_a_failed_jobs_error_keeps_the_reason_but_not_the_user(kit: RunnerKit) -> None:
    user = "linked.user@example.com"
    exports = kit.recordings.parent / "exports"
    (exports / "1").mkdir(parents=True)
    (kit.recordings.parent / "elsewhere").mkdir()
    (exports / "1" / user).symlink_to(kit.recordings.parent / "elsewhere")
    config = TargetsConfig(
        targets=[
            FilesTargetConfig(
                name="exports", directory=str(exports), pattern="{projectId}/{userId}/data"
            )
        ]
    )
    job_id = kit.schedule(user)

    kit.worker(kit.runner(targets=[*build_targets(config, kit.services.database)])).run_due_jobs()

    failed = job_now(kit.services, 1, job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.errors is not None and "passes through a link" in failed.errors
    assert "1/{userId}/data" in failed.errors and user not in failed.errors
    last = kit.services.history.events(1, job_id)[-1]
    assert last.type == "Failed" and user not in str(last.data)


def test_a_failed_jobs_error_names_none_of_the_users_sessions_after_forgetting(
    kit: RunnerKit, caplog: pytest.LogCaptureFixture
) -> None:
    """A session's id is the person's as much as her user id is: the sessions table
    ties it to her, and her job failed, so her rows may still be there. The error a
    files target reports for a session's recording is kept for good, and forgetting
    does not reach it."""
    user, session_id = "sessions.owner@example.com", 7061946018273
    with kit.services.database.writer() as conn:
        conn.execute(
            insert(sessions).values(
                session_id=session_id,
                project_id=1,
                user_id=user,
                user_uuid="u",
                start_ts=0,
                duration=1,
            )
        )
    kit.recordings.mkdir(parents=True)
    (kit.recordings.parent / "elsewhere").mkdir()
    (kit.recordings / "1").symlink_to(kit.recordings.parent / "elsewhere")
    job_id = kit.schedule(user)

    with caplog.at_level(logging.INFO):
        kit.worker(kit.runner()).run_due_jobs()
        forgetting(kit, days_later=31).forget_due()

    assert "failed" in caplog.text and str(session_id) not in caplog.text
    failed = job_now(kit.services, 1, job_id)
    assert failed.status == JobStatus.FAILED and failed.reference_id == FORGOTTEN
    assert failed.errors is not None and "passes through a link" in failed.errors
    assert str(session_id) not in failed.errors
    assert all(str(session_id) not in str(e.data) for e in kit.services.history.events(1, job_id))

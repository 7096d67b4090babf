"""Deletion you can trust: only the owner's data, all of it, under a lease that holds.

Each test here reproduces a way jobtrail once deleted someone else's data or said
``completed`` while the user's data was still there.
"""

import contextlib
import os
import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from api.composition import Services
from application.audit import compare, refold_all
from application.commands import JobCommands
from application.leases import LONGEST_TICK
from application.outcome import Outcome
from application.ports import DeletionTarget
from application.projection_check import fold_projection
from application.runner import JobRunner, RunnerSettings, RunResult
from application.worker import Worker
from domain.errors import IllegalTransition
from domain.job import Job, job_aggregate_id
from infrastructure.database import Database, parse_database_url
from infrastructure.session_store import seed_sessions
from infrastructure.sessions import sessions
from infrastructure.tables import jobs
from infrastructure.target_config import (
    ConfigError,
    FilesTargetConfig,
    SqlTargetConfig,
    TargetsConfig,
    load_config,
)
from infrastructure.targets import build_targets
from tests.conftest import job_now
from tests.runner_support import HeartbeatFrozenToo, RunnerKit, WrappedTarget, due, runner_kit


def history(kit: RunnerKit, job_id: int) -> list[object]:
    return list(kit.services.log.events.get(job_aggregate_id(job_id)))


def test_a_sql_target_whose_key_is_not_unique_deletes_only_the_owners_rows(
    services: Services,
) -> None:
    with services.database.writer() as conn:
        conn.execute(
            text(
                "CREATE TABLE usess (id INTEGER PRIMARY KEY, project_id INTEGER,"
                " user_id TEXT, session_id INTEGER)"
            )
        )
        # Session ids repeat across projects and users: the key is not unique.
        rows = [(1, "alice", 10), (1, "alice", 11), (2, "bob", 10), (2, "bob", 11)]
        rows += [(1, "carl", 11), (1, "carl", 12)]
        for n, (project_id, user_id, session_id) in enumerate(rows, start=1):
            conn.execute(
                text("INSERT INTO usess VALUES (:id, :p, :u, :s)"),
                {"id": n, "p": project_id, "u": user_id, "s": session_id},
            )
    config = TargetsConfig(
        targets=[SqlTargetConfig(name="usess", table="usess", id_column="session_id")]
    )
    [target] = build_targets(config, services.database)

    while target.delete_batch(1, "alice", 1)["usess"]:
        pass

    with services.database.reader() as conn:
        left = conn.execute(
            text("SELECT project_id, user_id, session_id FROM usess ORDER BY id")
        ).all()
    assert [tuple(row) for row in left] == [
        (2, "bob", 10),
        (2, "bob", 11),
        (1, "carl", 11),
        (1, "carl", 12),
    ]


class StallsPastTheLease(WrappedTarget):
    """A target whose batches take longer than the lease, by the injected clock.

    While a batch stalls, a second worker looks for due jobs."""

    def __init__(
        self, inner: DeletionTarget, kit: RunnerKit, rival: Worker, lease: timedelta
    ) -> None:
        super().__init__(inner)
        self._kit = kit
        self._rival = rival
        self._lease = lease
        self.rival_results: list[dict[RunResult, int]] = []

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        for _ in range(3):
            self._kit.clock.advance(self._lease / 2)
            wait_for_renewal(self._kit)
        self._kit.services.projector.catch_up()
        self.rival_results.append(self._rival.run_due_jobs())
        return self._inner.delete_batch(project_id, user_id, limit)


def wait_for_renewal(kit: RunnerKit) -> None:
    """Lets the worker's heartbeat see the clock's jump and renew (it runs on its own)."""
    before = kit.services.log.head()
    for _ in range(200):
        threading.Event().wait(0.01)
        if kit.services.log.head() > before:
            return


def test_a_worker_keeps_its_lease_through_batches_longer_than_the_lease(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["slow"], 30, kit.recordings)
    job_id = kit.schedule("slow")
    lease = timedelta(seconds=3)
    rival = kit.worker(kit.runner(worker_id="worker:rival", batch_size=10, lease=lease))
    [real] = kit.targets(batch_size=10)
    stalling = StallsPastTheLease(real, kit, rival, lease)
    runner = kit.runner(
        worker_id="worker:slow", batch_size=10, targets=[stalling], lease=lease, record_interval=5
    )

    assert runner.run(due(kit, job_id)) is RunResult.COMPLETED

    assert all(result == {} for result in stalling.rival_results)
    events = history(kit, job_id)
    assert not any(isinstance(e, Job.TakenOver) for e in events)
    completed = events[-1]
    assert isinstance(completed, Job.Completed)
    assert completed.deleted == {"sessions": 30, "recordings": 30}
    assert kit.session_count("slow") == 0
    assert kit.recording_count(1) == 0


def test_a_link_in_a_user_folder_target_is_removed_as_a_link_never_followed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "u"
    (root / "bob2").mkdir(parents=True)
    (root / "bob2" / "profile.json").write_text("bob2's data")
    (root / "eve").symlink_to(root / "bob2")
    config = TargetsConfig(
        targets=[FilesTargetConfig(name="exports", directory=str(root), pattern="{userId}")]
    )
    [target] = build_targets(config, database_for(tmp_path))

    assert target.delete_batch(1, "eve", 10) == {"exports": 1}

    assert not (root / "eve").is_symlink()
    assert (root / "bob2" / "profile.json").read_text() == "bob2's data"


def test_a_session_file_that_links_to_another_users_recording_is_removed_as_a_link(
    kit: RunnerKit,
) -> None:
    db = kit.services.database
    seed_sessions(db, 1, ["mallory"], 1, kit.recordings)
    seed_sessions(db, 1, ["victim"], 1, kit.recordings)
    session_of = session_ids(kit)
    mallory_file = kit.recordings / "1" / str(session_of["mallory"])
    victim_file = kit.recordings / "1" / str(session_of["victim"])
    mallory_file.unlink()
    mallory_file.symlink_to(victim_file)
    job_id = kit.schedule("mallory")

    assert kit.runner().run(due(kit, job_id)) is RunResult.COMPLETED

    assert not mallory_file.is_symlink()
    assert victim_file.exists()


def test_a_path_through_a_link_is_refused_without_leaking_the_servers_paths(
    tmp_path: Path,
) -> None:
    root = tmp_path / "u"
    root.mkdir()
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "keep").write_text("not jobtrail's to delete")
    (root / "eve").symlink_to(outside)
    config = TargetsConfig(
        targets=[FilesTargetConfig(name="exports", directory=str(root), pattern="{userId}/x")]
    )
    [target] = build_targets(config, database_for(tmp_path))

    with pytest.raises(ValueError) as refused:
        target.delete_batch(1, "eve", 10)

    assert str(tmp_path) not in str(refused.value)
    assert (outside / "keep").exists()


def session_ids(kit: RunnerKit) -> dict[str, int]:
    with kit.services.database.reader() as conn:
        rows = conn.execute(select(sessions.c.user_id, sessions.c.session_id)).all()
    return {user_id: session_id for user_id, session_id in rows}


def database_for(tmp_path: Path) -> Database:
    return Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))


def test_a_relative_directory_is_resolved_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc"
    (config_dir / "rec" / "1").mkdir(parents=True)
    (config_dir / "rec" / "1" / "alice").write_text("alice's recording")
    path = config_dir / "jobtrail.toml"
    path.write_text(
        '[[targets]]\nkind = "files"\nname = "rec"\ndirectory = "rec"\n'
        'pattern = "{projectId}/{userId}"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    [target] = build_targets(load_config(str(path)), database_for(tmp_path))

    assert target.delete_batch(1, "alice", 10) == {"rec": 1}
    assert not (config_dir / "rec" / "1" / "alice").exists()


def test_a_missing_directory_is_a_configuration_error_naming_the_target(tmp_path: Path) -> None:
    config = TargetsConfig(
        targets=[
            FilesTargetConfig(
                name="exports", directory=str(tmp_path / "nowhere"), pattern="{userId}"
            )
        ]
    )
    with pytest.raises(ConfigError, match="exports"):
        for target in build_targets(config, database_for(tmp_path)):
            target.check()


def test_the_read_model_keeps_no_lease_for_a_job_cancelled_while_running(kit: RunnerKit) -> None:
    job_id = kit.schedule("late-batch")
    lease_until = kit.clock.now() + timedelta(seconds=60)
    kit.commands.start(job_id, "worker:a", lease_until)
    kit.commands.cancel(1, job_id, "key:test")
    kit.commands.record_batch(job_id, "worker:a", 1, {"sessions": 1}, lease_until)
    kit.services.projector.catch_up()

    job = kit.services.log.job(job_id)
    assert job is not None and job.lease_until is None
    with kit.services.database.reader() as conn:
        stored = conn.execute(select(jobs.c.lease_until).where(jobs.c.job_id == job_id)).scalar()
    assert stored is None


def test_a_job_cannot_be_started_before_its_start_time(services: Services, tmp_path: Path) -> None:
    kit = runner_kit(services, tmp_path, delay=timedelta(hours=1))
    job_id = kit.schedule("patient")
    with pytest.raises(IllegalTransition):
        kit.commands.start(job_id, "worker:eager", kit.clock.now() + timedelta(seconds=60))


def test_files_are_not_followed_out_of_the_directory_by_a_linked_parent(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    outside = tmp_path / "other-project"
    outside.mkdir()
    (outside / "alice").write_text("another install's file")
    os.symlink(outside, root / "7")
    config = TargetsConfig(
        targets=[FilesTargetConfig(name="rec", directory=str(root), pattern="{projectId}/{userId}")]
    )
    [target] = build_targets(config, database_for(tmp_path))
    with pytest.raises(ValueError):
        target.delete_batch(7, "alice", 10)
    assert (outside / "alice").exists()


def test_a_user_with_nothing_to_delete_gets_a_receipt_naming_every_target(kit: RunnerKit) -> None:
    job_id = kit.schedule("never-seen")
    assert kit.runner().run(due(kit, job_id)) is RunResult.COMPLETED
    completed = history(kit, job_id)[-1]
    assert isinstance(completed, Job.Completed)
    assert completed.deleted == {"sessions": 0, "recordings": 0}
    assert completed.remaining == {"sessions": 0, "recordings": 0}


class DeletesNothing(WrappedTarget):
    """Says each batch is done while the rows stay (a filter that never matches,
    a trigger that swallows the DELETE): only the check after the batches sees it."""

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        return {"sessions": 0, "recordings": 0}


def test_a_job_whose_data_remains_fails_naming_what_remains(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["stubborn"], 4, kit.recordings)
    job_id = kit.schedule("stubborn")
    [real] = kit.targets()

    result = kit.runner(targets=[DeletesNothing(real)]).run(due(kit, job_id))

    assert result is RunResult.FAILED
    failed = history(kit, job_id)[-1]
    assert isinstance(failed, Job.Failed)
    assert failed.remaining == {"sessions": 4, "recordings": 4}
    assert "sessions: 4" in failed.error
    kit.services.projector.catch_up()
    assert job_now(kit.services, 1, job_id).status == "failed"


def test_a_worker_that_lost_its_job_mid_batch_still_counts_what_it_deleted(
    kit: RunnerKit,
) -> None:
    seed_sessions(kit.services.database, 1, ["contested"], 10, kit.recordings)
    job_id = kit.schedule("contested")
    lease = timedelta(seconds=30)
    [real] = kit.targets(batch_size=4)

    thawed = threading.Event()

    class StallsUntilTakenOver(WrappedTarget):
        """The worker freezes inside its first batch (its heartbeat with it) until
        another worker has taken the job over and finished it."""

        def __init__(self, inner: DeletionTarget) -> None:
            super().__init__(inner)
            self.calls = 0

        def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
            self.calls += 1
            deleted = self._inner.delete_batch(project_id, user_id, limit)
            if self.calls == 1:
                kit.clock.advance(lease * 2)
                rescuer = kit.runner(worker_id="worker:rescuer", batch_size=4, lease=lease)
                time.sleep(LONGEST_TICK * 3)  # the frozen heartbeat's turns come and go
                assert rescuer.run(due(kit, job_id)) is RunResult.COMPLETED
                thawed.set()
            return deleted

    frozen = kit.runner(
        worker_id="worker:frozen",
        batch_size=4,
        lease=lease,
        targets=[StallsUntilTakenOver(real)],
        commands=HeartbeatFrozenToo(kit.services.log, kit.clock, thawed),
    )
    assert frozen.run(due(kit, job_id)) is RunResult.LOST

    events = history(kit, job_id)
    late = [e for e in events if isinstance(e, Job.LateBatchDeleted)]
    assert [(e.actor, e.deleted) for e in late] == [
        ("worker:frozen", {"sessions": 4, "recordings": 4})
    ]
    # The rescuer completed before the frozen worker's account arrived: Completed
    # counts what had been recorded then, and the late account adds the rest.
    completed = next(e for e in events if isinstance(e, Job.Completed))
    assert completed.deleted == {"sessions": 6, "recordings": 6}
    assert isinstance(events[-1], Job.LateBatchDeleted)
    job = kit.services.log.job(job_id)
    assert job is not None and job.deleted == {"sessions": 10, "recordings": 10}
    assert kit.session_count("contested") == 0


def test_replay_and_verify_see_a_read_model_lease_the_log_does_not_hold(kit: RunnerKit) -> None:
    job_id = kit.schedule("leased")
    kit.commands.start(job_id, "worker:a", kit.clock.now() + timedelta(seconds=60))
    kit.services.projector.catch_up()
    with kit.services.database.writer() as conn:
        conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(lease_until=1))

    rows = list(kit.services.read_model.every_job())
    replayed = compare(refold_all(kit.services.log), rows)
    verified = compare(fold_projection(kit.services.log, kit.services.log.head()), rows)

    assert [m.field for m in replayed] == ["lease_until"]
    assert [m.field for m in verified] == ["lease_until"]


def test_a_folder_swapped_for_a_link_during_deletions_is_never_entered(tmp_path: Path) -> None:
    root, outside = tmp_path / "exports", tmp_path / "outside"
    user = root / "1" / "alice"
    outside.mkdir()
    for n in range(50):
        (outside / f"keep{n}").write_text("not alice's")
    config = TargetsConfig(
        targets=[
            FilesTargetConfig(name="exports", directory=str(root), pattern="{projectId}/{userId}")
        ]
    )
    [target] = build_targets(config, database_for(tmp_path))
    stop = threading.Event()

    def swap() -> None:
        # Over and over: alice/sub is a real folder, then a link to the outside.
        while not stop.is_set():
            sub = user / "sub"
            with contextlib.suppress(OSError):
                if sub.is_symlink():
                    sub.unlink()
                    sub.mkdir()
                    (sub / "f").write_text("alice's")
                else:
                    shutil.rmtree(sub, ignore_errors=True)
                    sub.symlink_to(outside)

    user.mkdir(parents=True)
    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for _ in range(300):
            user.mkdir(parents=True, exist_ok=True)
            (user / "own").write_text("alice's")
            target.delete_batch(1, "alice", 5)
    finally:
        stop.set()
        swapper.join()
    assert sorted(p.name for p in outside.iterdir()) == sorted(f"keep{n}" for n in range(50))


def test_a_session_stored_as_a_folder_is_removed_whole_and_counted(kit: RunnerKit) -> None:
    db = kit.services.database
    seed_sessions(db, 1, ["mobile"], 3, kit.recordings)
    for session_id in session_ids_of(kit, "mobile"):
        recording = kit.recordings / "1" / str(session_id)
        recording.unlink()
        (recording / "nested").mkdir(parents=True)
        for name in ("dom.mobs", "dom.mobe", "nested/devtools.mob"):
            (recording / name).write_text("mob")
    job_id = kit.schedule("mobile")

    assert kit.runner().run(due(kit, job_id)) is RunResult.COMPLETED

    completed = history(kit, job_id)[-1]
    assert isinstance(completed, Job.Completed)
    assert completed.deleted == {"sessions": 3, "recordings": 9}
    assert kit.recording_count(1) == 0


def test_files_removed_before_a_batch_failed_are_still_counted(kit: RunnerKit) -> None:
    """The rows' transaction fails after some session files are gone: the rows come
    back, the files do not, and the receipt says so."""
    db = kit.services.database
    seed_sessions(db, 1, ["half-gone"], 2, kit.recordings)
    first, second = sorted(session_ids_of(kit, "half-gone"))
    (kit.recordings / "1" / str(second)).unlink()
    (kit.recordings / "1" / str(second)).symlink_to(kit.recordings)  # a link: refused
    config = TargetsConfig(
        targets=[
            SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
            FilesTargetConfig(
                name="recordings",
                directory=str(kit.recordings),
                pattern="{projectId}/{sessionId}/x",
                sessions_from="sessions",
            ),
        ]
    )
    (kit.recordings / "1" / str(first)).unlink()
    (kit.recordings / "1" / str(first)).mkdir()
    (kit.recordings / "1" / str(first) / "x").write_text("mob")
    job_id = kit.schedule("half-gone")

    result = kit.runner(targets=[*build_targets(config, db)]).run(due(kit, job_id))

    assert result is RunResult.FAILED
    failed = history(kit, job_id)[-1]
    assert isinstance(failed, Job.Failed)
    assert failed.deleted == {"sessions": 0, "recordings": 1}  # the rows came back
    assert kit.session_count("half-gone") == 2
    assert not (kit.recordings / "1" / str(first) / "x").exists()


def test_a_user_id_too_long_for_a_file_name_has_no_files_and_leaks_no_path(
    tmp_path: Path,
) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    config = TargetsConfig(
        targets=[
            FilesTargetConfig(name="exports", directory=str(root), pattern="{projectId}/{userId}")
        ]
    )
    [target] = build_targets(config, database_for(tmp_path))
    (root / "1").mkdir()
    huge = "%" * 256  # 768 characters once percent-encoded: no file can have that name
    assert target.delete_batch(1, huge, 10) == {"exports": 0}
    assert target.remaining(1, huge) == {"exports": 0}


def test_a_database_blip_in_a_lease_renewal_does_not_fail_the_job(
    services: Services, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    seed_sessions(services.database, 1, ["blip"], 9, kit.recordings)
    job_id = kit.schedule("blip")
    lease = timedelta(seconds=3)

    class BlipOnce(JobCommands):
        blips = 0

        def renew_lease(
            self, job_id: int, actor: str, attempt: int, lease_until: datetime
        ) -> Outcome:
            if not self.blips:
                self.blips += 1
                raise OperationalError("SELECT", {}, Exception("server closed the connection"))
            return super().renew_lease(job_id, actor, attempt, lease_until)

    class SlowBatches(WrappedTarget):
        def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
            kit.clock.advance(timedelta(seconds=1.5))  # a renewal is due before each batch
            return self._inner.delete_batch(project_id, user_id, limit)

    commands = BlipOnce(services.log, kit.clock)
    [real] = kit.targets(batch_size=3)
    runner = JobRunner(
        commands,
        [SlowBatches(real)],
        kit.clock,
        # Records far apart, so that only renewals keep the lease.
        RunnerSettings("worker:blip", lease=lease, batch_size=3, record_interval=3600),
        sleep=lambda seconds: None,
    )

    assert runner.run(due(kit, job_id)) is RunResult.COMPLETED
    assert commands.blips == 1
    assert kit.session_count("blip") == 0


def session_ids_of(kit: RunnerKit, user_id: str) -> list[int]:
    with kit.services.database.reader() as conn:
        rows = conn.execute(select(sessions.c.session_id).where(sessions.c.user_id == user_id))
        return [int(session_id) for (session_id,) in rows]

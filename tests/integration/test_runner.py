"""The runner deletes for real, in batches, on both backends, and records what it did."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from api.composition import Services
from application.ports import DeletionTarget, TransientTargetError
from application.runner import RunResult
from domain.job import Job, job_aggregate_id
from infrastructure.session_store import seed_sessions
from tests.conftest import job_now
from tests.runner_support import RunnerKit, WrappedTarget, due, runner_kit


def history(kit: RunnerKit, job_id: int) -> list[object]:
    return list(kit.services.log.events.get(job_aggregate_id(job_id)))


def test_a_due_job_deletes_every_session_and_recording_of_the_user_and_nothing_else(
    kit: RunnerKit,
) -> None:
    db = kit.services.database
    seed_sessions(db, 1, ["target@example.com", "bystander@example.com"], 23, kit.recordings)
    seed_sessions(db, 2, ["target@example.com"], 5, kit.recordings)
    job_id = kit.schedule("target@example.com")

    results = kit.worker(kit.runner(batch_size=10)).run_due_jobs()

    assert results == {RunResult.COMPLETED: 1}
    assert kit.session_count("target@example.com", 1) == 0
    assert kit.session_count("bystander@example.com", 1) == 23
    assert kit.session_count("target@example.com", 2) == 5
    assert kit.recording_count(1) == 23
    assert kit.recording_count(2) == 5
    events = history(kit, job_id)
    batches = [e for e in events if isinstance(e, Job.BatchDeleted)]
    assert [b.deleted["sessions"] for b in batches] == [10, 10, 3]
    completed = events[-1]
    assert isinstance(completed, Job.Completed)
    assert completed.deleted == {"sessions": 23, "recordings": 23}
    assert job_now(kit.services, 1, job_id).status == "completed"


def test_there_is_no_cap_on_how_much_one_job_deletes(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["prolific"], 2500, kit.recordings)
    job_id = kit.schedule("prolific")
    assert kit.runner(batch_size=1000).run(due(kit, job_id)) is RunResult.COMPLETED
    assert kit.session_count("prolific") == 0
    completed = history(kit, job_id)[-1]
    assert isinstance(completed, Job.Completed)
    assert completed.deleted == {"sessions": 2500, "recordings": 2500}


AWKWARD_IDS = [
    "o'brien\"; DELETE FROM sessions; --",
    "../../etc",
    "..",
    "%",
    "*",
    "名前🙂",
    "a/b",
]


def test_awkward_user_ids_delete_only_their_own_rows_and_files(kit: RunnerKit) -> None:
    decoys = ["abc", "a", "etc", "b", "名前", "other%"]
    seed_sessions(kit.services.database, 1, AWKWARD_IDS + decoys, 3, kit.recordings)
    outside = kit.recordings.parent / "etc"
    outside.mkdir()
    (outside / "keep").write_text("not the user's")
    for user_id in AWKWARD_IDS:
        assert kit.runner().run(due(kit, kit.schedule(user_id))) is RunResult.COMPLETED
        assert kit.session_count(user_id) == 0
    for user_id in decoys:
        assert kit.session_count(user_id) == 3
    assert kit.recording_count(1) == 3 * len(decoys)
    assert (outside / "keep").exists()


def test_a_job_not_yet_due_is_left_alone(services: Services, tmp_path: Path) -> None:
    kit = runner_kit(services, tmp_path, delay=timedelta(hours=2))
    seed_sessions(services.database, 1, ["later"], 3, kit.recordings)
    job_id = kit.schedule("later")
    assert kit.worker(kit.runner()).run_due_jobs() == {}
    assert kit.session_count("later") == 3
    kit.clock.advance(timedelta(hours=2))
    assert kit.worker(kit.runner()).run_due_jobs() == {RunResult.COMPLETED: 1}
    assert job_now(services, 1, job_id).status == "completed"


class CancelDuringSecondBatch(WrappedTarget):
    """Wraps a real target; the job is cancelled while its second batch runs."""

    def __init__(self, inner: DeletionTarget, kit: RunnerKit, job_id: int) -> None:
        super().__init__(inner)
        self._kit = kit
        self._job_id = job_id
        self.batches = 0

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        self.batches += 1
        if self.batches == 2:
            self._kit.commands.cancel(project_id, self._job_id, "key:impatient")
        return self._inner.delete_batch(project_id, user_id, limit)


def test_a_cancel_while_running_stops_within_one_batch_and_stays_cancelled(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["changed-mind"], 50, kit.recordings)
    job_id = kit.schedule("changed-mind")
    [sessions_target] = kit.targets(batch_size=10)
    target = CancelDuringSecondBatch(sessions_target, kit, job_id)

    result = kit.runner(batch_size=10, targets=[target]).run(due(kit, job_id))

    assert result is RunResult.CANCELLED
    assert target.batches == 2
    assert kit.session_count("changed-mind") == 30
    events = history(kit, job_id)
    assert [type(e) for e in events] == [
        Job.Scheduled,
        Job.Started,
        Job.BatchDeleted,
        Job.Cancelled,
        Job.BatchDeleted,
    ]
    recorded = sum(e.deleted["sessions"] for e in events if isinstance(e, Job.BatchDeleted))
    assert recorded == 20  # exactly what is gone, including the batch that ran across the cancel
    kit.services.projector.catch_up()
    assert job_now(kit.services, 1, job_id).status == "cancelled"


class Flaky(WrappedTarget):
    def __init__(self, inner: DeletionTarget, failures: int, error: Exception) -> None:
        super().__init__(inner)
        self._failures = failures
        self._error = error
        self.calls = 0

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        self.calls += 1
        if self.calls <= self._failures:
            raise self._error
        return self._inner.delete_batch(project_id, user_id, limit)


def test_transient_target_errors_are_retried(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["bumpy"], 4, kit.recordings)
    job_id = kit.schedule("bumpy")
    [real] = kit.targets()
    flaky = Flaky(real, 2, TransientTargetError("connection reset"))
    assert kit.runner(targets=[flaky], retries=3).run(due(kit, job_id)) is RunResult.COMPLETED
    assert kit.session_count("bumpy") == 0


def test_transient_errors_past_the_retry_bound_fail_the_job(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["down"], 4, kit.recordings)
    job_id = kit.schedule("down")
    [real] = kit.targets()
    flaky = Flaky(real, 99, TransientTargetError("connection refused"))
    assert kit.runner(targets=[flaky], retries=3).run(due(kit, job_id)) is RunResult.FAILED
    assert flaky.calls == 3
    assert kit.session_count("down") == 4
    kit.services.projector.catch_up()
    view = job_now(kit.services, 1, job_id)
    assert view.status == "failed"
    assert view.errors is not None and "connection refused" in view.errors


class BreaksAfterFirstBatch(Flaky):
    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        self.calls += 1
        if self.calls > 1:
            raise PermissionError("permission denied for table sessions")
        return self._inner.delete_batch(project_id, user_id, limit)


def test_a_permanent_error_fails_the_job_and_reports_only_what_was_deleted(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["half"], 25, kit.recordings)
    job_id = kit.schedule("half")
    [real] = kit.targets(batch_size=10)
    target = BreaksAfterFirstBatch(real, 0, RuntimeError())
    assert kit.runner(batch_size=10, targets=[target]).run(due(kit, job_id)) is RunResult.FAILED
    failed = history(kit, job_id)[-1]
    assert isinstance(failed, Job.Failed)
    assert "permission denied" in failed.error
    assert failed.deleted == {"sessions": 10, "recordings": 10}
    assert kit.session_count("half") == 15


def test_two_workers_reaching_for_one_due_job_run_it_once(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["popular"], 30, kit.recordings)
    job_id = kit.schedule("popular")
    barrier = threading.Barrier(2)
    results: list[RunResult] = []

    def run(worker_id: str) -> None:
        runner = kit.runner(worker_id=worker_id, batch_size=5)
        barrier.wait()
        results.append(runner.run(due(kit, job_id)))

    threads = [threading.Thread(target=run, args=(f"worker:{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted([RunResult.COMPLETED, RunResult.SKIPPED])
    events = history(kit, job_id)
    assert sum(isinstance(e, Job.Started) for e in events) == 1
    assert sum(isinstance(e, Job.Completed) for e in events) == 1


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["orphan"], 12, kit.recordings)
    job_id = kit.schedule("orphan")
    lease = timedelta(seconds=60)
    # Worker A starts the job and deletes one batch, then dies without a word.
    kit.commands.start(job_id, "worker:a", kit.clock.now() + lease)
    [target] = kit.targets(batch_size=5)
    deleted = target.delete_batch(1, "orphan", 5)
    kit.commands.record_batch(job_id, "worker:a", 1, deleted, kit.clock.now() + lease)

    survivor = kit.worker(kit.runner(worker_id="worker:b", batch_size=5, lease=lease))
    assert survivor.run_due_jobs() == {}  # the lease still holds
    kit.clock.advance(lease)
    assert survivor.run_due_jobs() == {RunResult.COMPLETED: 1}

    events = history(kit, job_id)
    assert [type(e) for e in events] == [
        Job.Scheduled,
        Job.Started,
        Job.BatchDeleted,
        Job.TakenOver,
        Job.BatchDeleted,
        Job.BatchDeleted,
        Job.Completed,
    ]
    taken = events[3]
    assert isinstance(taken, Job.TakenOver)
    assert (taken.previous_owner, taken.actor) == ("worker:a", "worker:b")
    completed = events[-1]
    assert isinstance(completed, Job.Completed)
    assert completed.deleted == {"sessions": 12, "recordings": 12}
    assert kit.session_count("orphan") == 0


def test_the_dead_workers_late_batch_is_refused_after_a_takeover(kit: RunnerKit) -> None:
    job_id = kit.schedule("zombie")
    lease = timedelta(seconds=30)
    kit.commands.start(job_id, "worker:a", kit.clock.now() + lease)
    kit.clock.advance(lease)
    kit.commands.take_over(job_id, "worker:b", kit.clock.now() + lease)
    from domain.errors import NotTheOwner

    with pytest.raises(NotTheOwner):
        kit.commands.record_batch(job_id, "worker:a", 1, {"sessions": 1}, kit.clock.now() + lease)


def test_a_stopping_worker_finishes_its_batch_and_releases_the_job(kit: RunnerKit) -> None:
    seed_sessions(kit.services.database, 1, ["interrupted"], 20, kit.recordings)
    job_id = kit.schedule("interrupted")
    [real] = kit.targets(batch_size=5)

    class StopAfterFirst(Flaky):
        def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
            kit.stopping.set()
            return self._inner.delete_batch(project_id, user_id, limit)

    runner = kit.runner(batch_size=5, targets=[StopAfterFirst(real, 0, RuntimeError())])
    assert runner.run(due(kit, job_id)) is RunResult.RELEASED
    assert kit.session_count("interrupted") == 15
    kit.stopping.clear()
    next_worker = kit.worker(kit.runner(worker_id="worker:next", batch_size=5))
    assert next_worker.run_due_jobs() == {RunResult.COMPLETED: 1}
    types = [type(e) for e in history(kit, job_id)]
    assert Job.LeaseReleased in types and Job.TakenOver in types
    assert kit.session_count("interrupted") == 0


def test_with_a_record_interval_batches_share_one_record_and_a_cancel_still_stops_at_once(
    kit: RunnerKit,
) -> None:
    seed_sessions(kit.services.database, 1, ["grouped", "grouped-cancel"], 40, kit.recordings)
    job_id = kit.schedule("grouped")
    runner = kit.runner(batch_size=10, record_interval=3600)
    assert runner.run(due(kit, job_id)) is RunResult.COMPLETED
    batches = [e for e in history(kit, job_id) if isinstance(e, Job.BatchDeleted)]
    assert [b.deleted for b in batches] == [{"sessions": 40, "recordings": 40}]

    cancelled_id = kit.schedule("grouped-cancel")
    [real] = kit.targets(batch_size=10)
    target = CancelDuringSecondBatch(real, kit, cancelled_id)
    slow = kit.runner(batch_size=10, targets=[target], record_interval=3600)
    assert slow.run(due(kit, cancelled_id)) is RunResult.CANCELLED
    assert target.batches == 2
    events = history(kit, cancelled_id)
    assert [type(e) for e in events][-2:] == [Job.Cancelled, Job.BatchDeleted]
    assert events[-1].deleted == {"sessions": 20, "recordings": 20}  # type: ignore[attr-defined]
    assert kit.session_count("grouped-cancel") == 20


def test_a_failed_job_is_logged_with_its_error_type(
    kit: RunnerKit, caplog: pytest.LogCaptureFixture
) -> None:
    seed_sessions(kit.services.database, 1, ["logged"], 3, kit.recordings)
    job_id = kit.schedule("logged")
    [real] = kit.targets()
    broken = BreaksAfterFirstBatch(real, 0, RuntimeError())
    broken.calls = 1  # the very first batch breaks
    with caplog.at_level("INFO", logger="jobtrail.runner"):
        assert kit.runner(targets=[broken]).run(due(kit, job_id)) is RunResult.FAILED
    assert f"job {job_id} started by worker:a" in caplog.text
    assert f"job {job_id} failed: PermissionError: permission denied" in caplog.text

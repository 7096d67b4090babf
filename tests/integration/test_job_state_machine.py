"""Random lives of deletion jobs, on both backends, checked after every step.

Several workers start, delete, record, renew, release, complete and fail jobs,
while leases expire, jobs are cancelled and taken over, an operator searches for
what is left of an ended job's user, and a worker may stall between deleting a batch
and recording it. After every step:

- the read model equals the aggregate on every field it keeps (lease included);
- no event of an attempt that lost the job steered it (only its account counts);
- every receipt together equals the rows and files actually removed;
- a worker between two records, looking for a cancel, finds the job's status.
"""

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from api.composition import Services
from application.audit import compare
from application.errors import ConcurrencyConflict
from application.job_records import job_row
from application.remains import FINDER
from domain.errors import DomainError
from domain.job import Job, job_aggregate_id
from domain.lifecycle import JobStatus
from domain.remains import RemainsPlace
from infrastructure.session_store import seed_sessions
from tests.runner_support import RunnerKit, runner_kit

LEASE = timedelta(seconds=60)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SESSIONS = 4
BATCH = 4
WORKERS = ["worker:a", "worker:b"]
STEERING = (Job.LeaseRenewed, Job.BatchDeleted, Job.LeaseReleased, Job.Completed, Job.Failed)


@dataclass
class WorkerMemory:
    """What one worker process knows: the attempt it believes it holds, and what it
    deleted but has not recorded yet (a stall between the two is a step)."""

    attempt: int | None = None
    unrecorded: dict[str, int] = field(default_factory=dict)


def steering_problems(events: list[Any]) -> list[str]:
    """Events that steered the job without holding it: an independent re-reading of
    the log, by owner and attempt, not by the aggregate's own code."""
    problems, owner, former, ended = [], None, set(), False
    for event in events[1:]:
        if isinstance(event, Job.Started | Job.TakenOver):
            if owner is not None:
                former.add(owner)
            owner = event.actor
        elif isinstance(event, STEERING) and event.actor != owner:
            problems.append(f"{type(event).__name__} by {event.actor}, owner {owner}")
        elif isinstance(event, Job.LateBatchDeleted) and not (
            event.actor in former or (ended and event.actor == owner)
        ):
            problems.append(f"late account by {event.actor}, who still held the job")
        ended = ended or isinstance(event, Job.Completed | Job.Failed | Job.Cancelled)
    return problems


class JobLives(RuleBasedStateMachine):
    def __init__(self, services: Services, tmp_path: Path) -> None:
        super().__init__()
        self.kit: RunnerKit = runner_kit(services, tmp_path)
        self.user = f"user-{uuid.uuid4().hex[:8]}"
        self.project = 1
        seed_sessions(services.database, self.project, [self.user], SESSIONS, self.kit.recordings)
        self.initial = self._left()
        [self.target] = self.kit.targets(batch_size=BATCH)
        self.workers = {name: WorkerMemory() for name in WORKERS}
        self.job_ids: list[int] = []
        self.job_id = self.kit.schedule(self.user, self.project)
        self.job_ids.append(self.job_id)

    # What the actors do ----------------------------------------------------------

    @rule(worker=st.sampled_from(WORKERS))
    def start_or_take_over(self, worker: str) -> None:
        until = self.kit.clock.now() + LEASE
        for claim in (self.kit.commands.start, self.kit.commands.take_over):
            try:
                outcome = claim(self.job_id, worker, until)
            except (DomainError, ConcurrencyConflict):
                continue
            self.workers[worker].attempt = outcome.attempt
            return

    @rule(worker=st.sampled_from(WORKERS))
    def delete_a_batch(self, worker: str) -> None:
        """The runner's rule: a batch only while the worker still holds the job."""
        memory = self.workers[worker]
        job = self.kit.services.log.job(self.job_id)
        assert job is not None
        holds = memory.attempt is not None and job.holds(worker, memory.attempt)
        if not holds or job.lease_expired(self.kit.clock.now()):
            return
        deleted = self.target.delete_batch(self.project, self.user, BATCH)
        for name, count in deleted.items():
            memory.unrecorded[name] = memory.unrecorded.get(name, 0) + count

    @rule(worker=st.sampled_from(WORKERS))
    def record(self, worker: str) -> None:
        memory = self.workers[worker]
        if not memory.unrecorded or memory.attempt is None:
            return
        until = self.kit.clock.now() + LEASE
        try:
            self.kit.commands.record_batch(
                self.job_id, worker, memory.attempt, dict(memory.unrecorded), until
            )
        except DomainError:
            self.kit.commands.account_late(self.job_id, worker, dict(memory.unrecorded))
        memory.unrecorded.clear()

    @rule(worker=st.sampled_from(WORKERS))
    def renew(self, worker: str) -> None:
        self._steer(worker, "renew_lease", self.kit.clock.now() + LEASE)

    @rule(worker=st.sampled_from(WORKERS))
    def release(self, worker: str) -> None:
        self._steer(worker, "release")

    @rule(worker=st.sampled_from(WORKERS))
    def complete(self, worker: str) -> None:
        self._steer(worker, "complete", self.target.remaining(self.project, self.user))

    @rule(worker=st.sampled_from(WORKERS))
    def fail(self, worker: str) -> None:
        attempt = self.workers[worker].attempt
        if attempt is not None:
            with contextlib.suppress(DomainError):
                self.kit.commands.fail(self.job_id, worker, attempt, "RuntimeError: boom")

    @rule()
    def cancel(self) -> None:
        with contextlib.suppress(DomainError):
            self.kit.commands.cancel(self.project, self.job_id, "key:user")

    @rule()
    def search_for_remains(self) -> None:
        """`jobtrail targets find`, kept on the user's latest job once it has ended."""
        place = RemainsPlace("target", "sessions", 1, "rows", "sessions")
        with contextlib.suppress(DomainError):
            self.kit.commands.record_remains_search(self.job_id, FINDER, [place], {"ids": 1})

    @rule()
    def lease_expires(self) -> None:
        self.kit.clock.advance(LEASE)

    @rule()
    def request_again(self) -> None:
        """The user asks again: the active job, or a new one once the last has ended."""
        job_id = self.kit.schedule(self.user, self.project)
        if job_id != self.job_id:
            self.job_ids.append(job_id)
            self.job_id = job_id
            for memory in self.workers.values():
                memory.attempt = None  # the new job is nobody's yet

    def _steer(self, worker: str, command: str, *args: Any) -> None:
        attempt = self.workers[worker].attempt
        if attempt is None:
            return
        with contextlib.suppress(DomainError):
            getattr(self.kit.commands, command)(self.job_id, worker, attempt, *args)

    # What must hold ---------------------------------------------------------------

    @invariant()
    def the_read_model_equals_the_aggregate_on_every_field(self) -> None:
        services = self.kit.services
        services.projector.catch_up()
        expected = {}
        for job_id in self.job_ids:
            job = services.log.job(job_id)
            assert job is not None
            expected[job_id] = job_row(job)
        rows = [row for row in services.read_model.every_job() if row.job_id in expected]
        assert [str(m) for m in compare(expected, rows)] == []

    @invariant()
    def no_lost_attempt_steered_a_job(self) -> None:
        for job_id in self.job_ids:
            events = list(self.kit.services.log.events.get(job_aggregate_id(job_id)))
            assert steering_problems(events) == []

    @invariant()
    def the_receipts_equal_what_was_removed(self) -> None:
        removed = {name: self.initial[name] - left for name, left in self._left().items()}
        counted = dict.fromkeys(removed, 0)
        for job_id in self.job_ids:
            job = self.kit.services.log.job(job_id)
            assert job is not None
            for name, count in job.deleted.items():
                counted[name] += count
        for memory in self.workers.values():
            for name, count in memory.unrecorded.items():
                counted[name] += count  # deleted, and about to be recorded
        assert counted == removed

    @invariant()
    def a_worker_between_records_finds_a_cancel(self) -> None:
        job = self.kit.services.log.job(self.job_id)
        assert job is not None
        seen = self.kit.commands.was_cancelled(self.job_id)
        last = self.kit.services.log.latest_event_type(self.job_id)
        if job.status is JobStatus.CANCELLED and last == Job.BatchDeleted.__name__:
            return  # the record of the batch that ran across the cancel: its answer said so
        assert seen == (job.status is JobStatus.CANCELLED), last

    def _left(self) -> dict[str, int]:
        return {
            "sessions": self.kit.session_count(self.user, self.project),
            "recordings": self.kit.recording_count(self.project),
        }


def test_random_job_lives_keep_every_promise(services: Services, tmp_path: Path, soak: int) -> None:
    examples = iter(range(1_000_000))

    class OnThisBackend(JobLives):
        def __init__(self) -> None:
            folder = tmp_path / f"example-{next(examples)}"
            folder.mkdir()
            super().__init__(services, folder)

    run_state_machine_as_test(
        OnThisBackend,
        settings=settings(
            max_examples=30 * soak,  # `--soak N` for a longer search
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,  # one class name for both backends: no replays across them
        ),
    )


def test_the_steering_check_can_fail() -> None:
    def started_by_a() -> Job:
        job = Job.schedule_user_deletion(
            job_id=1,
            project_id=1,
            user_id="u",
            subject="s",
            key_generation=0,
            start_at=T0,
            actor="key:k",
            at=T0,
        )
        job.start(actor="worker:a", at=T0, lease_until=T0 + LEASE)
        return job

    stale = started_by_a()
    stale.record_batch(actor="worker:a", attempt=1, deleted={"s": 1}, at=T0, lease_until=T0 + LEASE)
    taken = started_by_a()
    taken.take_over(actor="worker:b", at=T0 + LEASE, lease_until=T0 + 2 * LEASE)
    forged = list(taken.collect_events()) + list(stale.collect_events())[-1:]
    assert steering_problems(forged) == ["BatchDeleted by worker:a, owner worker:b"]

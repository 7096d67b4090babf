"""Building a runner on real databases and real files, with an injected clock."""

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from api.composition import Services
from application.commands import JobCommands
from application.event_log import JobLog
from application.forgetting import Forgetting
from application.job_records import DueJob
from application.outcome import Outcome
from application.ports import Clock, DeletionTarget
from application.runner import JobRunner, RunnerSettings
from application.worker import Worker
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.sessions import sessions
from infrastructure.target_config import FilesTargetConfig, SqlTargetConfig, TargetsConfig
from infrastructure.targets import build_targets
from tests.clocks import SteppingClock
from tests.scheduling import SchedulingCommands

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def default_config(recordings: Path, batch_size: int = 1000) -> TargetsConfig:
    return TargetsConfig(
        batch_size=batch_size,
        targets=[
            SqlTargetConfig(name="sessions", table="sessions", id_column="session_id"),
            FilesTargetConfig(
                name="recordings",
                directory=str(recordings),
                pattern="{projectId}/{sessionId}",
                sessions_from="sessions",
            ),
        ],
    )


@dataclass
class RunnerKit:
    services: Services
    clock: SteppingClock
    recordings: Path
    commands: SchedulingCommands
    stopping: threading.Event = field(default_factory=threading.Event)

    def targets(self, batch_size: int = 1000) -> list[DeletionTarget]:
        self.recordings.mkdir(parents=True, exist_ok=True)
        built = build_targets(default_config(self.recordings, batch_size), self.services.database)
        return [*built]

    def runner(
        self,
        worker_id: str = "worker:a",
        batch_size: int = 1000,
        targets: Sequence[DeletionTarget] | None = None,
        lease: timedelta = timedelta(seconds=60),
        retries: int = 5,
        record_interval: float = 0.0,
        commands: JobCommands | None = None,
    ) -> JobRunner:
        return JobRunner(
            commands or self.commands,
            self.targets(batch_size) if targets is None else targets,
            self.clock,
            RunnerSettings(
                worker_id,
                lease=lease,
                batch_size=batch_size,
                retries=retries,
                record_interval=record_interval,
            ),
            self.stopping,
            sleep=lambda seconds: None,
        )

    def worker(self, runner: JobRunner) -> Worker:
        return Worker(
            runner,
            self.services.read_model,
            self.clock,
            self.services.projector.catch_up,
            self.stopping,
        )

    def schedule(self, user_id: str, project_id: int = 1) -> int:
        outcome = self.commands.schedule_user_deletion(project_id, user_id, "key:test")
        self.services.projector.catch_up()
        return outcome.job.job_id

    def session_count(self, user_id: str | None = None, project_id: int | None = None) -> int:
        query = select(func.count()).select_from(sessions)
        if user_id is not None:
            query = query.where(sessions.c.user_id == user_id)
        if project_id is not None:
            query = query.where(sessions.c.project_id == project_id)
        with self.services.database.reader() as conn:
            return int(conn.execute(query).scalar_one())

    def recording_count(self, project_id: int) -> int:
        folder = self.recordings / str(project_id)
        return sum(1 for _ in folder.iterdir()) if folder.exists() else 0


def runner_kit(
    services: Services, tmp_path: Path, delay: timedelta | None = timedelta(0)
) -> RunnerKit:
    clock = SteppingClock(T0)
    commands = SchedulingCommands(services.log, SqlJobIdAllocator(services.database), clock, delay)
    return RunnerKit(services, clock, tmp_path / "recordings", commands)


class WrappedTarget:
    """A real target with a behaviour added around its batches (a stall, a cancel)."""

    def __init__(self, inner: DeletionTarget) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def counts_exactly(self) -> bool:
        return self._inner.counts_exactly

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        return self._inner.delete_batch(project_id, user_id, limit)

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        return self._inner.remaining(project_id, user_id)


def forgetting_at(
    services: Services, now: datetime, forget_after: timedelta = timedelta(days=30)
) -> Forgetting:
    """Forgetting as a worker runs it at ``now``, each write waited for by the read model."""
    return Forgetting(
        services.log,
        services.read_model,
        services.log.vault,  # type: ignore[attr-defined]
        SteppingClock(now),
        forget_after,
        after_write=lambda position: services.projector.wait_for(position, 10),
    )


def due(kit: RunnerKit, job_id: int) -> DueJob:
    """The job as a worker is handed it."""
    job = kit.services.log.job(job_id)
    assert job is not None
    return DueJob(job_id, job.project_id, job.reference_id)


class HeartbeatFrozenToo(JobCommands):
    """The commands of a frozen process: it renews nothing until ``thawed`` is set.
    Without this, its heartbeat thread would renew the lease the moment the clock
    moves, and the rescuer would find the job still held (a race CI's load once lost)."""

    def __init__(self, log: JobLog, clock: Clock, thawed: threading.Event) -> None:
        super().__init__(log, clock)
        self._thawed = thawed

    def renew_lease(self, job_id: int, actor: str, attempt: int, until: datetime) -> Outcome:
        self._thawed.wait()
        return super().renew_lease(job_id, actor, attempt, until)

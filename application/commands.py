"""The commands that change jobs. Each loads fresh state, decides, and appends,
retried against the state that won when another writer's append came first
(application/outcome.py). Scheduling, the one command that makes a job, is its own
use case (application/scheduling.py)."""

from collections.abc import Callable, Sequence
from datetime import datetime

from application.errors import JobNotFound
from application.event_log import JobLog
from application.job_records import job_view
from application.outcome import Outcome, retry_on_conflict
from application.ports import Clock
from domain.job import Job, cancelled_after
from domain.lifecycle import JobStatus
from domain.remains import RemainsPlace


class JobCommands:
    def __init__(
        self,
        log: JobLog,
        clock: Clock,
        after_write: Callable[[int], None] = lambda position: None,
    ) -> None:
        self._log = log
        self._clock = clock
        self._after_write = after_write

    def cancel(self, project_id: int, job_id: int, actor: str) -> Outcome:
        def attempt(job: Job) -> None:
            job.cancel(actor=actor, at=self._clock.now())

        return self.change(job_id, attempt, project_id)

    def start(self, job_id: int, actor: str, lease_until: datetime | None = None) -> Outcome:
        def attempt(job: Job) -> None:
            job.start(actor=actor, at=self._clock.now(), lease_until=lease_until)

        return self.change(job_id, attempt)

    def take_over(self, job_id: int, actor: str, lease_until: datetime) -> Outcome:
        def attempt(job: Job) -> None:
            job.take_over(actor=actor, at=self._clock.now(), lease_until=lease_until)

        return self.change(job_id, attempt)

    def renew_lease(self, job_id: int, actor: str, attempt: int, lease_until: datetime) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.renew_lease(
                actor=actor, attempt=attempt, at=self._clock.now(), lease_until=lease_until
            ),
        )

    def record_batch(
        self,
        job_id: int,
        actor: str,
        attempt: int,
        deleted: dict[str, int],
        lease_until: datetime,
        record: int | None = None,
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.record_batch(
                actor=actor,
                attempt=attempt,
                deleted=deleted,
                at=self._clock.now(),
                lease_until=lease_until,
                record=record,
            ),
        )

    def account_late(
        self,
        job_id: int,
        actor: str,
        deleted: dict[str, int],
        unconfirmed: dict[str, int] | None = None,
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.account_late(
                actor=actor, deleted=deleted, at=self._clock.now(), unconfirmed=unconfirmed
            ),
        )

    def record_remains_search(
        self, job_id: int, actor: str, places: Sequence[RemainsPlace], searched: dict[str, int]
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.record_remains_search(
                actor=actor, at=self._clock.now(), places=places, searched=searched
            ),
        )

    def was_cancelled(self, job_id: int) -> bool:
        """Whether the job is cancelled, from the log (the read model may lag). Its last
        event's type answers, cheaply, when it is a cancel or an event appended only to
        a job that is not cancelled; any other (a search for remains, a lost attempt's
        account, which may follow a cancel) is answered by the job itself."""
        told = cancelled_after(self._log.latest_event_type(job_id))
        if told is not None:
            return told
        job = self._log.job(job_id)
        return job is not None and job.status is JobStatus.CANCELLED

    def release(self, job_id: int, actor: str, attempt: int) -> Outcome:
        return self.change(
            job_id, lambda job: job.release(actor=actor, attempt=attempt, at=self._clock.now())
        )

    def complete(
        self, job_id: int, actor: str, attempt: int, remaining: dict[str, int] | None = None
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.complete(
                actor=actor, attempt=attempt, at=self._clock.now(), remaining=remaining or {}
            ),
        )

    def fail(
        self,
        job_id: int,
        actor: str,
        attempt: int,
        error: str,
        remaining: dict[str, int] | None = None,
    ) -> Outcome:
        return self.change(
            job_id,
            lambda job: job.fail(
                actor=actor,
                attempt=attempt,
                error=error,
                at=self._clock.now(),
                remaining=remaining,
            ),
        )

    def change(
        self, job_id: int, decide: Callable[[Job], None], project_id: int | None = None
    ) -> Outcome:
        """Loads the job, lets ``decide`` command it, and appends what it did: retried
        against fresh state when another writer won (the use cases beside this class
        command jobs through it too)."""

        def attempt() -> Outcome:
            job = self._log.job(job_id)
            if job is None or (project_id is not None and job.project_id != project_id):
                raise JobNotFound(job_id)
            decide(job)
            recordings = self._log.save(job)
            # A command that changed nothing (a record the job holds already) wrote
            # nothing: no position to wait for.
            position = recordings[-1].notification.id if recordings else None
            return Outcome(job_view(job), position, job.attempts)

        outcome = retry_on_conflict(attempt)
        if outcome.position is not None:
            self._after_write(outcome.position)
        return outcome

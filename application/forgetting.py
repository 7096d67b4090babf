"""Forgetting users whose deletions are long over: their data keys are destroyed.

The log keeps every event of their jobs (times, statuses, actors, receipts), and
each job gets a PersonalDataForgotten event; the user's id, sealed with the key,
can no longer be read by anyone (ADR 18).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from eventsourcing.persistence import RecordConflictError

from application.errors import DamagedRecord
from application.event_log import JobLog
from application.ports import Clock, DataKeys, JobsReadModel
from domain.job import Job
from domain.user_deletions import NotForgettable, UserDeletions, may_forget, user_deletions_id

log = logging.getLogger("jobtrail.forgetting")
FORGETTER = "jobtrail:forget"
_PAGE = 500


@dataclass
class ForgetReport:
    """What one round of forgetting did, in counts (never whom)."""

    users: int = 0
    jobs: int = 0
    keys: int = 0
    """Data keys destroyed, unused ones included."""
    unsealed_jobs: int = 0
    """Jobs written before sealing: forgotten in every view, but the log's bytes of
    their Scheduled event still hold the id (ADR 18)."""
    damaged: list[str] = field(default_factory=list)
    """Each damaged record the round met, by job and aggregate (never whom): its user
    is not forgotten, every other user still is (ADR 17)."""

    @property
    def anything(self) -> bool:
        return bool(self.jobs or self.keys)

    def passed_over(self, damaged: DamagedRecord, job_id: int | None = None) -> None:
        """Notes a damaged record the round met, once however often it meets it."""
        if not any(str(damaged) in line for line in self.damaged):
            self.damaged.append(f"job {job_id}: {damaged}" if job_id else str(damaged))


class Forgetting:
    def __init__(
        self,
        log: JobLog,
        read_model: JobsReadModel,
        keys: DataKeys,
        clock: Clock,
        forget_after: timedelta,
        after_write: Callable[[int], None] = lambda position: None,
    ) -> None:
        self._log = log
        self._read_model = read_model
        self._keys = keys
        self._clock = clock
        self._forget_after = forget_after
        self._after_write = after_write

    def forget_due(self) -> ForgetReport:
        """Forgets every user whose every job ended ``forget_after`` ago or more."""
        report = ForgetReport()
        now = self._clock.now()
        ended_by = int((now - self._forget_after).timestamp() * 1000)
        done: set[str] = set()
        after = 0
        while True:
            candidates = self._read_model.forgettable(ended_by, after, _PAGE)
            for job_id in candidates:
                self._forget_owner_of(job_id, done, report)
            if len(candidates) < _PAGE:
                break
            after = candidates[-1]
        self._forget_unused_keys(ended_by, report)
        if report.anything:
            self._keys.scrub()
        return report

    def _forget_owner_of(self, job_id: int, done: set[str], report: ForgetReport) -> None:
        try:
            self._forget_owner_or_fail(job_id, done, report)
        except DamagedRecord as damaged:
            # Contained: this user waits until the record is repaired; the others do not.
            report.passed_over(damaged, job_id)

    def _forget_owner_or_fail(self, job_id: int, done: set[str], report: ForgetReport) -> None:
        job = self._log.job(job_id)
        if job is None or job.is_forgotten or job.subject in done:
            return
        now = self._clock.now()
        if not job.subject:
            if may_forget(job, now, self._forget_after):
                job.forget_personal_data(actor=FORGETTER, at=now)
                self._save(job)
                self._read_model.forget_in_unfinished_rebuild([job.job_id])
                report.unsealed_jobs += 1
                report.jobs += 1
            return
        done.add(job.subject)
        ledger = self._log.aggregate_or_none(user_deletions_id(job.subject))
        if not isinstance(ledger, UserDeletions):
            return
        generation = ledger.key_generation
        jobs = [self._job(other) for other in ledger.unforgotten_jobs]
        try:
            ledger.forget(jobs, actor=FORGETTER, at=now, forget_after=self._forget_after)
            self._save(ledger, *jobs)
        except (NotForgettable, RecordConflictError):
            return  # still needed, or changed meanwhile: a later round decides again
        report.users += 1
        report.jobs += len(jobs)
        report.keys += self._keys.destroy([(job.subject, generation)])
        self._read_model.forget_in_unfinished_rebuild([forgotten.job_id for forgotten in jobs])

    def _forget_unused_keys(self, ended_by: int, report: ForgetReport) -> None:
        """A key made for a request whose append then failed, or made again by a
        request that raced a forgetting, seals nothing: it is destroyed once it is
        as old as a forgettable job, and never younger than an hour (a request may
        be between making its key and appending its job)."""
        hour_ago = int(self._clock.now().timestamp() * 1000) - 3_600_000
        unused = []
        for subject, generation in self._keys.keys_created_before(min(ended_by, hour_ago), 10_000):
            try:
                ledger = self._log.aggregate_or_none(user_deletions_id(subject))
            except DamagedRecord as damaged:
                report.passed_over(damaged)  # its key may still seal: kept
                continue
            sealing = (
                isinstance(ledger, UserDeletions)
                and ledger.key_generation == generation
                and bool(ledger.unforgotten_jobs)
            )
            if not sealing:
                unused.append((subject, generation))
        if unused:
            report.keys += self._keys.destroy(unused)

    def _job(self, job_id: int) -> Job:
        try:
            job = self._log.job(job_id)
        except DamagedRecord as damaged:
            raise DamagedRecord(
                damaged.aggregate_id, f"job {job_id} of the same user: {damaged.detail}"
            ) from damaged
        if job is None:
            raise DamagedRecord(str(job_id), "a ledger names a job the log does not hold")
        return job

    def _save(self, *aggregates: Job | UserDeletions) -> None:
        recordings = self._log.save(*aggregates)
        self._after_write(recordings[-1].notification.id)

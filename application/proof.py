"""Proof without the person: the jobs of a user id that someone presents.

The id is turned into its subject (the keyed hash the log names users by), so the
proof works the same before and after the user is forgotten: the log keeps the
jobs, their times and receipts, only no longer the id itself (ADR 18).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from application.errors import DamagedRecord
from application.event_log import JobLog
from application.job_records import JobView, job_view
from domain.remains import RemainsSearch
from domain.request import validate_user_id
from domain.user_deletions import UserDeletions, legacy_user_deletions_id, user_deletions_id


@dataclass(frozen=True, slots=True)
class ProvenJob:
    job: JobView
    receipt: dict[str, int]
    """Per target, what the job deleted (so far, if it has not ended)."""
    forgotten: bool
    last_search: RemainsSearch | None = None
    """What the last ``targets find`` after the job found of the user, if one ran."""
    unconfirmed: dict[str, int] | None = None
    """At most this more, per target: what a worker reported after its lease ran out
    and the job was taken over (ADR 33); None when there is none."""


def prove(log: JobLog, user_id: str, project_ids: Iterable[int]) -> list[ProvenJob]:
    """Every deletion job of ``user_id`` in these projects, oldest first."""
    validate_user_id(user_id)
    proven: list[ProvenJob] = []
    for project_id in project_ids:
        ledgers = [user_deletions_id(log.subject_of(project_id, user_id))]
        if log.may_hold_clear_ledgers():
            ledgers.append(legacy_user_deletions_id(project_id, user_id))
        for ledger_id in ledgers:
            ledger = log.aggregate_or_none(ledger_id)
            if isinstance(ledger, UserDeletions):
                proven += (_proven(log, job_id) for job_id in ledger.job_ids)
    return sorted(proven, key=lambda p: p.job.job_id)


def _proven(log: JobLog, job_id: int) -> ProvenJob:
    job = log.job(job_id)
    if job is None:
        raise DamagedRecord(str(job_id), "a user's ledger names a job the log does not hold")
    last = job.remains_searches[-1] if job.remains_searches else None
    unconfirmed = dict(job.unconfirmed) or None
    return ProvenJob(job_view(job), dict(job.deleted), job.is_forgotten, last, unconfirmed)

"""The deletion requests of one user in one project, known only by a keyed hash.

It guards the rule that a user has at most one active deletion job: two requests
that race both try to append the next event here, and only one of them can.

It also decides when the user may be forgotten, and which data key seals the
user's personal fields: forgetting ends a key generation, and the next request
opens a new one, so a key is never destroyed under a job that still needs it.
"""

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import DomainError
from domain.job import Job
from domain.name_ids import NameIds

_LEDGERS = NameIds(uuid5(NAMESPACE_URL, "jobtrail:user-deletions"))


def user_deletions_id(subject: str) -> UUID:
    """The ledger of a subject: the keyed hash of (project, user), never the id itself."""
    return _LEDGERS.id_of(f"subject:{subject}")


def legacy_user_deletions_id(project_id: int, user_id: str) -> UUID:
    """Where ledgers written before sealing live (an unkeyed hash of the user id)."""
    return _LEDGERS.id_of(f"{project_id}\x00{user_id}")


class NotForgettable(DomainError):
    """A user whose data key is still needed, or not yet old enough to destroy."""


class UserDeletions(Aggregate):
    class Opened(Aggregate.Created):
        project_id: int
        subject: str = ""  # ledgers from before sealing stored the user id instead

    class JobAssigned(Aggregate.Event):
        job_id: int

        def apply(self, ledger: "UserDeletions") -> None:
            ledger.latest_job_id = self.job_id
            ledger.job_ids.append(self.job_id)
            ledger.unforgotten_jobs.append(self.job_id)

    class Forgotten(Aggregate.Event):
        """The data key of this generation was destroyed with these jobs' personal data."""

        actor: str
        key_generation: int
        job_ids: list[int]

        def apply(self, ledger: "UserDeletions") -> None:
            ledger.key_generation = self.key_generation + 1
            ledger.unforgotten_jobs = []

    def __init__(self, project_id: int, subject: str = "") -> None:
        self.project_id = project_id
        self.subject = subject
        self.latest_job_id: int | None = None
        self.job_ids: list[int] = []
        self.key_generation = 0
        self.unforgotten_jobs: list[int] = []

    @classmethod
    def open(cls, *, project_id: int, subject: str, at: datetime) -> "UserDeletions":
        return cls._create(
            cls.Opened,
            id=user_deletions_id(subject),
            timestamp=at,
            project_id=project_id,
            subject=subject,
        )

    def assign(self, job_id: int, *, at: datetime) -> None:
        self.trigger_event(self.JobAssigned, timestamp=at, job_id=job_id)

    def forget(self, jobs: list[Job], *, actor: str, at: datetime, forget_after: timedelta) -> None:
        """Forgets the user: each job of this key generation must have ended at least
        ``forget_after`` ago (the last to end decides), and none may still run."""
        if sorted(job.job_id for job in jobs) != sorted(self.unforgotten_jobs):
            raise NotForgettable("every job of the key generation must be forgotten together")
        if not jobs:
            raise NotForgettable("there is nothing of this user to forget")
        for job in jobs:
            if not may_forget(job, at, forget_after):
                raise NotForgettable(f"job {job.job_id} is {job.status} or ended too recently")
        generation = self.key_generation
        self.trigger_event(
            self.Forgotten,
            timestamp=at,
            actor=actor,
            key_generation=generation,
            job_ids=list(self.unforgotten_jobs),
        )
        for job in jobs:
            if not job.is_forgotten:
                job.forget_personal_data(actor=actor, at=at)


def may_forget(job: Job, now: datetime, forget_after: timedelta) -> bool:
    """A job may be forgotten once it has been terminal for ``forget_after`` (from its
    last event: an account of late deletions makes the wait start again)."""
    return job.status.is_terminal and job.modified_on + forget_after <= now

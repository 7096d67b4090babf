"""The deletion requests of one user in one project.

It guards the rule that a user has at most one active deletion job: two requests
that race both try to append the next event here, and only one of them can.
"""

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

_NAMESPACE = uuid5(NAMESPACE_URL, "jobtrail:user-deletions")


def user_deletions_id(project_id: int, user_id: str) -> UUID:
    return uuid5(_NAMESPACE, f"{project_id}\x00{user_id}")


class UserDeletions(Aggregate):
    class Opened(Aggregate.Created):
        project_id: int
        user_id: str

    class JobAssigned(Aggregate.Event):
        job_id: int

        def apply(self, ledger: "UserDeletions") -> None:
            ledger.latest_job_id = self.job_id

    def __init__(self, project_id: int, user_id: str) -> None:
        self.project_id = project_id
        self.user_id = user_id
        self.latest_job_id: int | None = None

    @classmethod
    def open(cls, *, project_id: int, user_id: str, at: datetime) -> "UserDeletions":
        return cls._create(
            cls.Opened,
            id=user_deletions_id(project_id, user_id),
            timestamp=at,
            project_id=project_id,
            user_id=user_id,
        )

    def assign(self, job_id: int, *, at: datetime) -> None:
        self.trigger_event(self.JobAssigned, timestamp=at, job_id=job_id)

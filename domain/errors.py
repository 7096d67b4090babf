"""Errors raised when a command breaks a rule of the domain."""


class DomainError(Exception):
    """A command was refused because of the aggregate's state or its arguments."""


class JobNotCancellable(DomainError):
    """Only a scheduled or running job can be cancelled."""

    def __init__(self, job_id: int, status: str) -> None:
        super().__init__(f"Job {job_id} is {status} and cannot be cancelled.")
        self.job_id = job_id
        self.status = status


class IllegalTransition(DomainError):
    """A lifecycle command that does not follow from the job's current status."""

    def __init__(self, job_id: int, status: str, command: str) -> None:
        super().__init__(f"Job {job_id} is {status}; it cannot be {command}.")
        self.job_id = job_id
        self.status = status
        self.command = command


class InvalidJobRequest(DomainError):
    """The arguments of a new job break a rule (for example an empty user id)."""


class LeaseHeld(DomainError):
    """Another worker owns the running job and its lease has not expired."""

    def __init__(self, job_id: int, owner: str) -> None:
        super().__init__(f"Job {job_id} is being run by {owner}.")
        self.job_id = job_id
        self.owner = owner


class NotTheOwner(DomainError):
    """A worker that no longer owns a job tried to act on it (its lease was taken over)."""

    def __init__(self, job_id: int, actor: str, owner: str | None) -> None:
        super().__init__(f"Job {job_id} is owned by {owner}, not {actor}.")
        self.job_id = job_id
        self.actor = actor
        self.owner = owner


class DeletionIncomplete(DomainError):
    """A job cannot complete while a target still holds data of the user."""

    def __init__(self, job_id: int, remaining: dict[str, int]) -> None:
        left = ", ".join(f"{target}: {count}" for target, count in sorted(remaining.items()))
        super().__init__(f"Job {job_id} cannot complete: the user's data remains ({left}).")
        self.job_id = job_id
        self.remaining = remaining


class DeadlineNotExtended(DomainError):
    """An extension of a job's response deadline that breaks a rule (domain.deadline)."""

"""Errors of the use cases, beside the domain's own rule violations."""


class ApplicationError(Exception):
    """A use case could not do what was asked."""


class JobNotFound(ApplicationError):
    def __init__(self, job_id: int) -> None:
        super().__init__("Job not found.")
        self.job_id = job_id


class ConcurrencyConflict(ApplicationError):
    """Other writers kept changing the same aggregate while this command retried."""


class ProjectionStalled(ApplicationError):
    """The read model did not reach a command's position in the time allowed."""

"""Errors of the use cases, beside the domain's own rule violations."""


class ApplicationError(Exception):
    """A use case could not do what was asked."""


class JobNotFound(ApplicationError):
    def __init__(self, job_id: int) -> None:
        super().__init__("Job not found.")
        self.job_id = job_id


class NoSuchVersion(JobNotFound):
    def __init__(self, job_id: int, version: int, latest: int) -> None:
        super().__init__(job_id)
        self.args = (f"Job {job_id} has {latest} events; there is no version {version}.",)


class NotYetCreated(JobNotFound):
    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.args = (f"Job {job_id} did not exist yet at that time.",)


class ConcurrencyConflict(ApplicationError):
    """Other writers kept changing the same aggregate while this command retried."""


class ProjectionStalled(ApplicationError):
    """The read model did not reach a command's position in the time allowed."""


class DamagedRecord(ApplicationError):
    """An event of the log cannot be decoded (edited in place, or of a type this
    version does not know): whatever needs that job's history cannot be answered."""

    def __init__(self, aggregate_id: object, detail: str, position: int | None = None) -> None:
        where = f" at log position {position}" if position is not None else ""
        super().__init__(
            f"The log's record of aggregate {aggregate_id} is damaged{where}: {detail}"
        )
        self.aggregate_id = aggregate_id
        self.detail = detail
        self.position = position

"""Reading jobs: only ever from the read model."""

from collections.abc import Iterator

from application.errors import JobNotFound
from application.job_records import JobView
from application.ports import JobReaderOnLoop, JobsReadModel


class JobQueries:
    def __init__(self, read_model: JobsReadModel, on_loop: JobReaderOnLoop) -> None:
        self._read_model = read_model
        self._on_loop = on_loop

    def get(self, project_id: int, job_id: int) -> JobView:
        return _found(job_id, self._read_model.get(project_id, job_id))

    async def get_on_loop(self, project_id: int, job_id: int) -> JobView:
        """The same read, without leaving the event loop; ``WouldWait`` if it cannot."""
        return _found(job_id, await self._on_loop.get(project_id, job_id))

    def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        page: int,
        user_prefix: str | None = None,
    ) -> list[JobView]:
        return self._read_model.page(project_id, status, limit, _offset(limit, page), user_prefix)

    async def page_on_loop(
        self, project_id: int, status: str | None, limit: int, page: int
    ) -> list[JobView]:
        """The same page, without leaving the event loop; ``WouldWait`` if it cannot."""
        return await self._on_loop.page(project_id, status, limit, _offset(limit, page))

    def all(self, project_id: int, status: str | None) -> Iterator[list[JobView]]:
        return self._read_model.stream(project_id, status)


def _found(job_id: int, job: JobView | None) -> JobView:
    if job is None:
        raise JobNotFound(job_id)
    return job


def _offset(limit: int, page: int) -> int:
    return (page - 1) * limit

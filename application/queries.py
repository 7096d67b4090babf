"""Reading jobs: only ever from the read model."""

from collections.abc import Iterator

from application.errors import JobNotFound
from application.ports import JobsReadModel
from application.views import JobView


class JobQueries:
    def __init__(self, read_model: JobsReadModel) -> None:
        self._read_model = read_model

    def get(self, project_id: int, job_id: int) -> JobView:
        job = self._read_model.get(project_id, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        page: int,
        user_prefix: str | None = None,
    ) -> list[JobView]:
        return self._read_model.page(project_id, status, limit, (page - 1) * limit, user_prefix)

    def all(self, project_id: int, status: str | None) -> Iterator[list[JobView]]:
        return self._read_model.stream(project_id, status)

"""Reading jobs for the API and the dashboard: only ever from the read model,
awaited on the event loop (ADR 28)."""

from collections.abc import AsyncIterator
from datetime import datetime

from application.deadlines import MAX_LISTED, OwingAnswers
from application.epoch import epoch_ms
from application.errors import JobNotFound
from application.job_records import JobView
from application.ports import AsyncReadModel
from domain.deadline import SOON


class JobQueries:
    def __init__(self, read_model: AsyncReadModel) -> None:
        self._read_model = read_model

    async def get(self, project_id: int, job_id: int) -> JobView:
        """The job, JobNotFound unless it is the project's; DamagedRecord if the log's
        record of it cannot be read."""
        job = await self._read_model.get(project_id, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def page(
        self,
        project_id: int,
        status: str | None,
        limit: int,
        page: int,
        user_prefix: str | None = None,
    ) -> list[JobView]:
        offset = (page - 1) * limit
        return await self._read_model.page(project_id, status, limit, offset, user_prefix)

    def all(self, project_id: int, status: str | None) -> AsyncIterator[list[JobView]]:
        return self._read_model.stream(project_id, status)

    async def owing(self, project_id: int, now: datetime) -> OwingAnswers:
        """The project's jobs that owe an answer, overdue or due soon."""
        due_by = epoch_ms(now + SOON)
        views = await self._read_model.owing_answers(project_id, due_by, MAX_LISTED + 1)
        return OwingAnswers.listed(views, now, SOON)

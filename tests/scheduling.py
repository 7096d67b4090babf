"""Scheduling one request at a time, from synchronous code: how tests and the
benchmarks schedule a user's deletion. The service decides its requests on an event
loop (the HTTP app's concurrent requests together: infrastructure/group_commit.py)."""

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from api.composition import Services
from application.commands import JobCommands
from application.event_log import JobLog
from application.log_scheduling_store import LogSchedulingStore
from application.outcome import Outcome
from application.ports import Clock, JobIdAllocator
from application.scheduling import ScheduleRequest, Scheduling
from domain.deadline import ONE_MONTH, Period
from infrastructure.job_ids import SqlJobIdAllocator

T = TypeVar("T")


def run_to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """An awaitable use case run from synchronous code: on a loop of its own, in a
    thread of its own if this thread runs a loop already (a caller inside async code,
    such as a test driving a browser)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


class SchedulingCommands(JobCommands):
    """The commands that change jobs, and the one that makes them: a request decided
    alone, on the log's own scheduling store."""

    def __init__(
        self,
        log: JobLog,
        job_ids: JobIdAllocator,
        clock: Clock,
        deletion_delay: timedelta | None,
        after_write: Callable[[int], None] = lambda position: None,
        response_period: Period = ONE_MONTH,
    ) -> None:
        super().__init__(log, clock, after_write)
        store = LogSchedulingStore(log, job_ids, lambda position: self._after_write(position))
        self._scheduling = Scheduling(store, log, clock, deletion_delay, response_period)

    @classmethod
    def of(
        cls, services: Services, after_write: Callable[[int], None] | None = None
    ) -> "SchedulingCommands":
        """As ``services.commands`` are: the service's clock and settings, and each
        write waiting for the read model (unless ``after_write`` says otherwise)."""
        settings = services.settings

        def read_your_writes(position: int) -> None:
            services.projector.wait_for(position, settings.read_your_writes_timeout)

        return cls(
            services.log,
            SqlJobIdAllocator(services.database),
            services.clock,
            settings.deletion_delay,
            after_write or read_your_writes,
            settings.response_period,
        )

    def schedule_user_deletion(self, project_id: int, user_id: str, actor: str) -> Outcome:
        request = ScheduleRequest(project_id, user_id, actor)
        (answer,) = run_to_the_end(self._scheduling.schedule([request]))
        if isinstance(answer, Exception):
            raise answer
        return answer

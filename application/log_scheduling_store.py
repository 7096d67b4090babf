"""Scheduling's store on the log (application.event_log.JobLog, eventsourcing's
recorders underneath): for SQLite's API, and for tools and tests on any backend.

Each call runs on the caller's thread, or (``in_thread``, for an event loop) in a
worker thread. The read model is the projector's: an append returns once the
projector has applied it, and an answer with an existing job once the projector
has applied the log as far as it was read.
"""

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar
from uuid import UUID

from application.event_log import JobLog
from application.ports import JobIdAllocator

T = TypeVar("T")


class LogSchedulingStore:
    def __init__(
        self,
        log: JobLog,
        job_ids: JobIdAllocator,
        after_write: Callable[[int], None],
        in_thread: bool = False,
    ) -> None:
        self._log = log
        self._job_ids = job_ids
        self._after_write = after_write
        self._in_thread = in_thread

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        if self._in_thread:
            return await asyncio.to_thread(work, *args)
        return work(*args)

    async def aggregates(
        self, aggregate_ids: Collection[UUID], subjects: Collection[str] = ()
    ) -> dict[UUID, Any]:
        if not aggregate_ids:
            return {}
        return await self._run(self._log.aggregates_as_read, aggregate_ids)

    async def new_job_ids(self, count: int) -> list[int]:
        if count == 0:
            return []
        return await self._run(self._job_ids.next_job_ids, count)

    async def append(self, aggregates: Sequence[Any], shown: Sequence[Any]) -> int | None:
        return await self._run(self._append, aggregates, shown)

    def _append(self, aggregates: Sequence[Any], shown: Sequence[Any]) -> int | None:
        position = self._log.save(*aggregates)[-1].notification.id if aggregates else None
        if shown:
            # A job returned as it was found may have been written a moment ago by
            # another writer, and not be in the read model yet: the answer waits for
            # the log as far as it was read (ids commit in order).
            position = max(position or 0, self._log.head())
        if position is not None:
            self._after_write(position)
        return position

"""Group commit on the event loop: concurrent callers' requests decided together, in
one batch (scheduling's, in the HTTP app).

No thread and no lock: a request joins the queue and awaits its answer. When no
batch is under way, one starts with every request queued so far; requests that
arrive meanwhile make the next batch, which starts when this one ends. Alone, a
request is a batch of one; under load, many share one append and one commit.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

from application.outcome import Outcome
from application.ports import SchedulingStore
from application.scheduling import ScheduleRequest, Scheduling

Request = TypeVar("Request")
Result = TypeVar("Result")

Decide = Callable[[Sequence[Request]], Awaitable[Sequence[Result | Exception]]]


class GroupCommit(Generic[Request, Result]):
    def __init__(self, decide: Decide[Request, Result], max_batch: int = 256) -> None:
        self._decide = decide
        self._max_batch = max_batch
        self._queue: list[tuple[Request, asyncio.Future[Result]]] = []
        self._batches: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((request, answer))
        if self._batches is None:
            self._batches = asyncio.create_task(self._decide_queued())
        # A caller that stops waiting (its deadline) cancels only its own wait: the
        # batch it joined is decided all the same.
        return await answer

    async def _decide_queued(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                try:
                    outcomes = await self._decide([request for request, _ in batch])
                except Exception as error:  # the batch failed as a whole: so does each
                    outcomes = [error] * len(batch)
                except BaseException:  # cancelled (the app stops): no answer will come
                    for _, answer in batch:
                        answer.cancel()
                    raise
                for (_, answer), outcome in zip(batch, outcomes, strict=True):
                    if answer.done():
                        continue
                    if isinstance(outcome, BaseException):
                        answer.set_exception(outcome)
                    else:
                        answer.set_result(outcome)
        finally:
            self._batches = None


@runtime_checkable
class Opening(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...


class LoopScheduling:
    """Scheduling as the HTTP app reaches it: on its event loop, concurrent requests
    decided together, on the store its database has (opened and closed by the app)."""

    def __init__(self, scheduling: Scheduling, store: SchedulingStore) -> None:
        self._together: GroupCommit[ScheduleRequest, Outcome] = GroupCommit(scheduling.schedule)
        self._store = store

    async def open(self) -> None:
        if isinstance(self._store, Opening):
            await self._store.open()

    async def close(self) -> None:
        if isinstance(self._store, Opening):
            await self._store.close()

    async def schedule_user_deletion(self, project_id: int, user_id: str, actor: str) -> Outcome:
        return await self._together.submit(ScheduleRequest(project_id, user_id, actor))

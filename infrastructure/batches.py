"""Requests of concurrent callers on the event loop, handled together in batches:
scheduling's group commit (infrastructure.group_commit) and the API's reads of single
jobs and of pages (infrastructure.read_model).

No thread and no lock: a request joins the queue and awaits its answer. On the
loop's next turn, if no batch is under way, one starts with every request queued so
far; requests that arrive meanwhile make the next. Beside a batch under way, another
starts (up to ``in_flight``) once half as many requests wait as the batch started
last held. Alone, a request is a batch of one; under load, many share one
statement, and one batch runs while the one before it is still under way.

A request whose ``key`` is in a batch under way waits for a later batch: two
batches in flight never decide for the same key (for scheduling, the same user),
so neither decides on what the other is about to change. A request whose caller
stopped waiting (its deadline) before its batch began is left out of it.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from infrastructure.async_reads import Overloaded

Request = TypeVar("Request")
Result = TypeVar("Result")

Decide = Callable[[Sequence[Request]], Awaitable[Sequence[Result | Exception]]]


class Batches(Generic[Request, Result]):
    def __init__(
        self,
        decide: Decide[Request, Result],
        key: Callable[[Request], Hashable] | None = None,
        in_flight: int = 1,
        max_batch: int = 256,
        max_waiting: int = 1000,
    ) -> None:
        """Without ``key``, any requests may share batches in flight. Past
        ``max_waiting`` requests queued, the next is refused at once (``Overloaded``:
        a 503) rather than queued to its deadline."""
        self._decide = decide
        self._max_waiting = max_waiting
        self._key = key
        self._in_flight = in_flight
        self._max_batch = max_batch
        self._queue: list[tuple[Request, asyncio.Future[Result]]] = []
        self._busy: set[Hashable] = set()  # the keys of the batches under way
        self._batches: set[asyncio.Task[None]] = set()
        self._last_size = 0  # of the batch started last
        self._start_pending = False

    async def submit(self, request: Request) -> Result:
        if len(self._queue) >= self._max_waiting:
            self._leave_out_abandoned()
            if len(self._queue) >= self._max_waiting:
                raise Overloaded(f"{len(self._queue)} requests wait for a batch already")
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((request, answer))
        self._start_soon()
        # A caller that stops waiting (its deadline) cancels only its own wait: the
        # batch it joined is decided all the same.
        return await answer

    def _start_soon(self) -> None:
        """Batches start on the loop's next turn, not at once: the callers woken by
        the same event (a batch's answers, one read of the sockets) join the same
        batch, instead of the first of them starting a batch of one."""
        if not self._start_pending:
            self._start_pending = True
            asyncio.get_running_loop().call_soon(self._start_batches)

    def _leave_out_abandoned(self) -> None:
        """Requests whose callers stopped waiting (their deadline) leave the queue:
        they count against ``max_waiting`` no longer, and join no batch."""
        self._queue = [queued for queued in self._queue if not queued[1].done()]

    def _start_batches(self) -> None:
        self._start_pending = False
        self._leave_out_abandoned()
        while self._queue and len(self._batches) < self._in_flight:
            batch: list[tuple[Request, asyncio.Future[Result]]] = []
            waiting: list[tuple[Request, asyncio.Future[Result]]] = []
            for queued in self._queue:
                if len(batch) < self._max_batch and self._free(queued[0]):
                    batch.append(queued)
                else:
                    waiting.append(queued)
            if not batch or (self._batches and len(batch) < self._last_size // 2):
                # While a batch is under way, the next waits for at least half as many
                # requests as the batch started last, or for the end of one: a batch
                # costs about the same whatever its size, and a stream of batches of
                # one beside it would spend the loop on fixed costs.
                return
            self._queue = waiting
            self._last_size = len(batch)
            keys = {self._key(request) for request, _ in batch} if self._key else set()
            self._busy |= keys
            task = asyncio.create_task(self._decide_batch(batch, keys))
            self._batches.add(task)

    def _free(self, request: Request) -> bool:
        return self._key is None or self._key(request) not in self._busy

    async def _decide_batch(
        self, batch: list[tuple[Request, asyncio.Future[Result]]], keys: set[Hashable]
    ) -> None:
        try:
            outcomes = await self._decide([request for request, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} answers to a batch of {len(batch)}")
        except Exception as error:  # the batch failed as a whole: so does each
            outcomes = [error] * len(batch)
        except BaseException:  # cancelled (the app stops): no answer will come
            for _, answer in batch:
                answer.cancel()
            raise
        finally:
            self._busy -= keys
            self._batches.discard(asyncio.current_task())
        for (_, answer), outcome in zip(batch, outcomes, strict=True):
            if answer.done():
                continue
            if isinstance(outcome, BaseException):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)
        self._start_soon()

"""The threads that run the API's blocking handlers: a fixed number at once, a
bounded queue in front of them, and a thread's place given back on every path.

A place (a slot) is held from before the thread starts until the handler ends, also
when the request gave up on it (its deadline passed, it was cancelled): abandoned
threads cannot pile up without bound. A slot whose thread never started is given
back by the request that gave up; one whose thread did start, by the thread when
the handler ends. Before, a slot taken just before the deadline, whose thread
never started, was never given back: forty of those and every request waited for
its deadline, then answered 503, until a restart (issue 25).
"""

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from infrastructure.async_reads import Overloaded

T = TypeVar("T")

HANDLER_THREADS = 40
"""Handler threads running at once (anyio's own default), abandoned ones included."""
QUEUED_AT_MOST = 5 * HANDLER_THREADS
"""Requests waiting for a thread before the next is refused at once (503 with
Retry-After). Forty threads drain 200 waiting requests in five handlers' time
(tens of milliseconds for a healthy database), well within any deadline, and the
benchmarks' 16 connections never reach it. A longer queue would only hold
requests that answer 503 at their deadline anyway, each keeping a client waiting
for it; a shorter one would refuse bursts that are served in time."""


class HandlerThreads:
    """Runs blocking handlers in threads of their own (see the module). Used on one
    event loop; the threads give their slots back through it."""

    def __init__(self, threads: int = HANDLER_THREADS, queued: int = QUEUED_AT_MOST) -> None:
        self._free = asyncio.Semaphore(threads)
        # The handlers' own: a slot always finds a token (the limiter gives a token
        # back when its thread is abandoned, a slot only when the thread ends), and
        # other users of anyio's default limiter (Starlette's sync endpoints, static
        # files) never delay a handler's thread.
        self._limiter = anyio.CapacityLimiter(threads)
        self._queued = queued
        self._waiting = 0
        self.busy = 0
        """Slots held: threads running or about to start, abandoned ones included."""

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a thread. Raises :class:`Overloaded` at once when every
        thread is busy and ``queued`` requests wait already; cancelled (a deadline),
        it gives up waiting and leaves a started thread to finish on its own."""
        if self._free.locked() and self._waiting >= self._queued:
            raise Overloaded("every handler thread is busy and the queue is full")
        self._waiting += 1
        try:
            await self._free.acquire()
        finally:
            self._waiting -= 1
        self.busy += 1
        slot = _Slot(self._release, asyncio.get_running_loop())
        try:
            return await anyio.to_thread.run_sync(
                slot.run, work, abandon_on_cancel=True, limiter=self._limiter
            )
        finally:
            slot.give_up()

    def _release(self) -> None:
        self.busy -= 1
        self._free.release()


async def in_thread(request: Request, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in one of the app's handler threads: what runs on the
    synchronous event store (commands, a job's history) or another blocking library."""
    threads: HandlerThreads = request.app.state.handler_threads
    return await threads.run(functools.partial(work, *args))


class _Slot:
    """One acquired slot, given back exactly once: by the thread when its work ends,
    or by the request if the thread had not started when the request stopped
    waiting (then the work never runs)."""

    def __init__(self, release: Callable[[], None], loop: asyncio.AbstractEventLoop) -> None:
        self._release = release
        self._loop = loop
        self._lock = threading.Lock()
        self._started = False
        self._given_up = False

    def run(self, work: Callable[[], T]) -> T:
        with self._lock:
            if self._given_up:
                raise asyncio.CancelledError  # nobody waits for it: its slot is back
            self._started = True
        try:
            return work()
        finally:
            # The loop may be gone (the server stopped while the thread ran).
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._release)

    def give_up(self) -> None:
        """On the loop, whenever the request stops waiting (answered or not)."""
        with self._lock:
            if self._started:
                return  # the thread gives the slot back when its work ends
            self._given_up = True
        self._release()

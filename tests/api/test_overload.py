"""Overload degrades and recovers (issue 25): a handler thread's slot is given back on
every path, whether the request was answered, gave up at its deadline before its
thread started, was cancelled, or abandoned a thread still running; and past the
bounded queue a request is refused at once instead of waiting for its deadline."""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services
from api.handler_threads import HANDLER_THREADS, HandlerThreads
from infrastructure.async_reads import Overloaded
from infrastructure.settings import Settings

T = TypeVar("T")


def test_requests_whose_deadline_passes_before_their_thread_starts_give_the_slot_back(
    database_url: str,
) -> None:
    # A deadline of 0 s has passed before any thread can start: each request takes
    # a slot (one is free at once) and is answered 503 before its handler runs.
    settings = Settings(database_url=database_url, read_your_writes_timeout=0.0)
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as client:
        for _ in range(2 * HANDLER_THREADS):
            assert client.get("/healthz").status_code == 503
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        services.settings = msgspec.structs.replace(settings, read_your_writes_timeout=10.0)

        # Every slot is back: a request with time to spare is answered at once.
        response = client.get("/healthz")

        assert response.status_code == 200, response.text
        assert client.app.state.handler_threads.busy == 0  # type: ignore[attr-defined]


def on_a_loop(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=30))


class Gate:
    """Work that holds its thread until opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Semaphore(0)

    def work(self) -> str:
        self.entered.release()
        assert self.opened.wait(timeout=30)
        return "done"

    async def entered_by(self, count: int) -> None:
        for _ in range(count):
            await asyncio.to_thread(self.entered.acquire)


def test_a_request_cancelled_before_its_thread_starts_gives_the_slot_back() -> None:
    async def scenario() -> tuple[int, str]:
        threads = HandlerThreads(threads=1, queued=1)
        ran = threading.Event()
        current = asyncio.current_task()
        assert current is not None
        # Cancelled (the client gone, the server stopping) after the free slot was
        # taken, at the first wait for the thread.
        current.cancel()
        with pytest.raises(asyncio.CancelledError):
            await threads.run(ran.set)
        current.uncancel()
        busy_after_cancel = threads.busy
        assert not ran.is_set()  # nobody waits for it any more: it never runs
        return busy_after_cancel, await threads.run(lambda: "the one slot is free")

    assert on_a_loop(scenario) == (0, "the one slot is free")


def test_a_request_that_gave_up_on_a_running_thread_gets_its_slot_back_when_it_ends() -> None:
    async def scenario() -> tuple[int, int, str]:
        threads = HandlerThreads(threads=1, queued=1)
        gate = Gate()
        abandoned = asyncio.ensure_future(threads.run(gate.work))
        await gate.entered_by(1)
        abandoned.cancel()  # its deadline: the thread runs on, holding the slot
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        held_while_running = threads.busy
        gate.opened.set()
        answer = await threads.run(lambda: "after the abandoned one ended")
        return held_while_running, threads.busy, answer

    assert on_a_loop(scenario) == (1, 0, "after the abandoned one ended")


def test_past_the_queue_a_request_is_refused_at_once_and_the_queue_then_drains() -> None:
    async def scenario() -> tuple[list[str], int]:
        threads = HandlerThreads(threads=2, queued=3)
        gate = Gate()
        running = [asyncio.ensure_future(threads.run(gate.work)) for _ in range(2)]
        await gate.entered_by(2)
        waiting = [asyncio.ensure_future(threads.run(gate.work)) for _ in range(3)]
        await asyncio.sleep(0.05)  # the three are in the queue

        with pytest.raises(Overloaded):
            await threads.run(gate.work)  # no await in it suspends: refused at once

        gate.opened.set()
        answers = await asyncio.gather(*running, *waiting)
        return answers, threads.busy

    answers, busy = on_a_loop(scenario)
    assert answers == ["done"] * 5
    assert busy == 0


def test_a_request_whose_deadline_passes_in_the_queue_leaves_it() -> None:
    async def scenario() -> tuple[int, str]:
        threads = HandlerThreads(threads=1, queued=1)
        gate = Gate()
        running = asyncio.ensure_future(threads.run(gate.work))
        await gate.entered_by(1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await threads.run(gate.work)
        # Its place in the queue is free again: another may wait there.
        queued = asyncio.ensure_future(threads.run(lambda: "served after the first"))
        await asyncio.sleep(0.05)
        gate.opened.set()
        await running
        answer = await queued
        return threads.busy, answer

    assert on_a_loop(scenario) == (0, "served after the first")

"""Every request that reaches the database is answered in time: its answer, or a
503 with Retry-After, within ``JOBTRAIL_READ_YOUR_WRITES_TIMEOUT`` seconds."""

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

from starlette.requests import Request
from starlette.responses import Response

from api.handler_threads import Overloaded
from api.responses import errors
from infrastructure.async_reads import Overloaded as ReadsOverloaded

log = logging.getLogger("jobtrail.api")

Endpoint = Callable[[Request], Awaitable[Response]]


def answered_in_time(endpoint: Endpoint) -> Endpoint:
    """Answers 503 once ``JOBTRAIL_READ_YOUR_WRITES_TIMEOUT`` seconds have passed,
    whatever the database or the group commit is doing: no client waits without an
    answer. When every handler thread is busy and the queue in front of them is full
    (api.handler_threads), or as many reads wait for a connection already
    (infrastructure.async_reads), it answers 503 at once: under a burst far beyond
    capacity, the excess is refused in microseconds instead of each request holding
    its client for the whole deadline.

    A handler thread is left to finish on its own. A command it was running may
    still commit after the 503: retrying the same request is safe (``DELETE
    /users/{userId}`` returns the job that was made), as ADR 17 explains."""

    async def in_time(request: Request) -> Response:
        seconds: float = request.app.state.services.settings.read_your_writes_timeout
        try:
            with _deadline(seconds):
                return await endpoint(request)
        except TimeoutError:
            return _too_slow(endpoint, seconds)
        except (Overloaded, ReadsOverloaded):
            return _overloaded()

    # Its name, docstring and OpenAPI operation are the handler's (see api.documented).
    return functools.update_wrapper(in_time, endpoint)


def _too_slow(endpoint: Endpoint, seconds: float) -> Response:
    log.warning("%s took over %s s: answered 503", endpoint.__name__, seconds)
    return errors(
        503,
        "The database did not answer in time; retrying the request is safe.",
        headers={"Retry-After": "1"},
    )


def _overloaded() -> Response:
    # No log line per refusal: a burst would write thousands (the metrics count them).
    return errors(
        503,
        "Too many requests are waiting already; retry shortly.",
        headers={"Retry-After": "1"},
    )


# A deadline's states.
_WAITING, _FIRED, _LEFT = range(3)


class _Deadline:
    """One request's deadline, kept as ``asyncio.timeout`` keeps one: when it passes,
    the request's task is cancelled, and the cancellation that comes out of the block
    is a TimeoutError; one from elsewhere (the client went away) stays what it is."""

    __slots__ = ("cancelling", "lane", "state", "task", "when")

    def __init__(self, lane: "_Lane", task: "asyncio.Task[object]", when: float) -> None:
        self.lane = lane
        self.task = task
        self.when = when
        self.state = _WAITING
        self.cancelling = task.cancelling()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        fired = self.state == _FIRED
        self.state = _LEFT
        self.lane.trim()
        if fired and self.task.uncancel() <= self.cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc


class _Lane:
    """The deadlines of one length on one event loop. Each is the time a request came
    plus the same seconds, so they fall in the order the requests came: a queue, with
    one timer for the earliest still waiting, instead of a timer of its own per request
    (``asyncio.timeout`` makes one, puts it in the loop's heap and cancels it: about
    4 µs a request where this takes under 1 µs, measured on the default loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop = loop
        self.seconds = seconds
        self.waiting: deque[_Deadline] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def enter(self, task: "asyncio.Task[object]") -> _Deadline:
        deadline = _Deadline(self, task, self.loop.time() + self.seconds)
        self.waiting.append(deadline)
        if self.seconds <= 0:
            # Passed already: cancelled on the loop's next step, before whatever the
            # request goes on to wait for, as asyncio.timeout does.
            self.loop.call_soon(self.fire_due)
        elif self.timer is None:
            # A timer armed already is for an earlier deadline, which it wakes up at the
            # latest; from there it moves on to the earliest still waiting.
            self.timer = self.loop.call_at(deadline.when, self.expire)
        return deadline

    def trim(self) -> None:
        """Drops the deadlines at the front whose requests have been answered."""
        waiting = self.waiting
        while waiting and waiting[0].state == _LEFT:
            waiting.popleft()

    def expire(self) -> None:
        self.timer = None
        self.fire_due()
        if self.waiting:
            self.timer = self.loop.call_at(self.waiting[0].when, self.expire)

    def fire_due(self) -> None:
        """Cancels the requests whose deadline has passed, and drops the answered
        ones in front of those still waiting."""
        now = self.loop.time()
        waiting = self.waiting
        while waiting:
            first = waiting[0]
            if first.state == _WAITING and first.when > now:
                break
            waiting.popleft()
            if first.state == _WAITING:
                first.state = _FIRED
                first.task.cancel()


_lane: _Lane | None = None
"""The lane of the last deadline: the running loop's, unless the loop or the setting
changed since (another TestClient, a test's settings); a lane left behind keeps its
deadlines until they are answered or fire."""


def _deadline(seconds: float) -> _Deadline:
    global _lane
    loop = asyncio.get_running_loop()
    lane = _lane
    if lane is None or lane.loop is not loop or lane.seconds != seconds:
        lane = _lane = _Lane(loop, seconds)
    task = asyncio.current_task(loop)
    if task is None:
        raise RuntimeError("a deadline is kept inside a task")
    return lane.enter(task)

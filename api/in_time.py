"""Every request that reaches the database is answered in time: its answer, or a
503 with Retry-After, within ``JOBTRAIL_READ_YOUR_WRITES_TIMEOUT`` seconds."""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from api.responses import errors
from infrastructure.async_reads import Overloaded

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
            async with asyncio.timeout(seconds):
                return await endpoint(request)
        except TimeoutError:
            return _too_slow(endpoint, seconds)
        except Overloaded:
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

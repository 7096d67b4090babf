"""The Starlette application. Its lifespan is the one place services are built."""

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from pathlib import Path

import anyio
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api import routes, ui
from api.composition import build_services
from api.errors import EXCEPTION_HANDLERS
from api.handler_threads import HandlerThreads, Overloaded
from api.logs import configure_logging
from api.metrics import CONTENT_TYPE, Metrics
from api.middleware import BodyLimit, Observe
from api.openapi import openapi_document
from api.responses import MsgspecResponse, errors
from application.errors import WouldWait
from infrastructure.loop_reads import Overloaded as LoopReadsOverloaded
from infrastructure.schema import login_secret
from infrastructure.settings import Settings

log = logging.getLogger("jobtrail.api")


Handler = Callable[[Request], Response]
LoopHandler = Callable[[Request], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def within(handler: Handler) -> Endpoint:
    """Runs a handler in one of the handler threads (api.handler_threads), but answers
    503 once ``JOBTRAIL_READ_YOUR_WRITES_TIMEOUT`` seconds have passed, whatever the
    database or the group commit is doing: no client waits without an answer. When
    every thread is busy and the queue in front of them is full, it answers 503 at
    once: under a burst far beyond capacity, the excess is refused in microseconds
    instead of each request holding its client for the whole deadline.

    The handler's thread is left to finish on its own. A command it was running may
    still commit after the 503: retrying the same request is safe (``DELETE
    /users/{userId}`` returns the job that was made), as ADR 17 explains."""

    async def endpoint(request: Request) -> Response:
        seconds: float = request.app.state.services.settings.read_your_writes_timeout
        threads: HandlerThreads = request.app.state.handler_threads
        try:
            with anyio.fail_after(seconds):
                return await threads.run(functools.partial(handler, request))
        except TimeoutError:
            return _too_slow(handler, seconds)
        except Overloaded:
            return _overloaded()

    # Its name, docstring and OpenAPI operation are the handler's (see api.documented).
    return functools.update_wrapper(endpoint, handler)


def loop_first(on_loop: LoopHandler, handler: Handler) -> Endpoint:
    """Answers on the event loop when that needs no waiting (ADR 22), within the same
    deadline as :func:`within`; when it would wait, ``handler`` answers in a thread."""
    in_thread = within(handler)

    async def endpoint(request: Request) -> Response:
        seconds: float = request.app.state.services.settings.read_your_writes_timeout
        try:
            async with asyncio.timeout(seconds):
                return await on_loop(request)
        except WouldWait:
            return await in_thread(request)
        except TimeoutError:
            return _too_slow(handler, seconds)
        except LoopReadsOverloaded:
            return _overloaded()

    return functools.update_wrapper(endpoint, handler)


def _too_slow(handler: Handler, seconds: float) -> Response:
    log.warning("%s took over %s s: answered 503", handler.__name__, seconds)
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


def create_app(
    settings: Settings | None = None, follow_projection: bool = True, run_worker: bool = True
) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings or Settings.from_env())
        app.state.services = services
        await services.loop_reads.open()
        app.state.handler_threads = HandlerThreads()
        app.state.login_signer = URLSafeTimedSerializer(
            await run_in_threadpool(login_secret, services.database), salt="jobtrail-ui"
        )
        app.state.metrics = metrics
        metrics.watch(services)
        follower = services.follower() if follow_projection else None
        if follower is not None:
            follower.start()
        stopping = threading.Event()
        worker_thread = None
        if run_worker and not services.settings.embedded_worker:
            log.info("no embedded worker: due jobs run only in `jobtrail worker` processes")
        if services.settings.embedded_worker and run_worker:
            worker = services.worker(stopping, observe=metrics.observe_batch)
            log.info("embedded worker %s runs due jobs in this process", worker.worker_id)
            worker_thread = threading.Thread(
                target=worker.run_until_stopped,
                args=(services.settings.worker_poll_interval,),
                name="embedded-worker",
                daemon=True,
            )
            worker_thread.start()
        try:
            yield
        finally:
            stopping.set()
            if worker_thread is not None:
                await run_in_threadpool(worker_thread.join, 30)
                log.info("embedded worker stopped")
            if follower is not None:
                await run_in_threadpool(follower.stop)
            await services.loop_reads.close()
            services.close()

    metrics = Metrics()

    def prometheus(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    def index(_: Request) -> Response:
        """Where to go from the root: a newcomer's first request finds its way."""
        return MsgspecResponse(
            {
                "name": "jobtrail",
                "version": version("jobtrail"),
                "api": "/api/v1/{projectKey}/jobs",
                "docs": "/docs",
                "openapi": "/openapi.json",
                "dashboard": "/ui",
                "health": "/healthz",
            }
        )

    app = Starlette(
        middleware=[Middleware(Observe, metrics=metrics), Middleware(BodyLimit)],
        routes=[
            *routes.api_routes(with_deadline=within, loop_first=loop_first),
            Route("/", index, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *ui.routes,
            Mount(
                "/static",
                StaticFiles(directory=str(Path(__file__).with_name("static"))),
                name="static",
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    # "/jobs/" is not "/jobs": a 404 in JSON, not a redirect with an empty body.
    app.router.redirect_slashes = False
    # Built from the routes just made, so a route without its documentation fails here.
    app.state.openapi = openapi_document(app.routes)
    app.state.openapi_json = MsgspecResponse(app.state.openapi).body
    return app


def create_app_from_env() -> Starlette:
    """Uvicorn's factory: each worker process builds its app from the environment."""
    settings = Settings.from_env()
    configure_logging(settings)
    return create_app(settings)

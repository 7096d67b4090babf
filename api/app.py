"""The Starlette application. Its lifespan is the one place services are built."""

import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

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
from api.handler_threads import HandlerThreads
from api.logs import configure_logging
from api.metrics import CONTENT_TYPE, Metrics
from api.middleware import BodyLimit, Observe
from api.openapi import openapi_document
from api.responses import MsgspecResponse
from infrastructure.schema import login_secret
from infrastructure.settings import Settings

log = logging.getLogger("jobtrail.api")


def create_app(
    settings: Settings | None = None,
    follow_projection: bool = True,
    run_worker: bool = True,
    freeze_start_up: bool = False,
) -> Starlette:
    """``freeze_start_up``: for a process that serves this one app until it ends
    (``serve``), not for tests that start many."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings or Settings.from_env())
        app.state.services = services
        await services.reads.open()
        await services.scheduling.open()
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
        if freeze_start_up:
            # What start-up made lives as long as the process: out of the collector's
            # sight, a full collection walks only what requests made since. Under
            # scheduling's load each full collection paused every request for about
            # 35 ms, and p99 was 33 ms against 13 with this (bench/analysis.md).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            stopping.set()
            if worker_thread is not None:
                await run_in_threadpool(worker_thread.join, 30)
                log.info("embedded worker stopped")
            if follower is not None:
                await run_in_threadpool(follower.stop)
            await services.scheduling.close()
            await services.reads.close()
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
            *routes.api_routes(),
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
    return create_app(settings, freeze_start_up=True)

"""The CRUD peer's HTTP API: OpenReplay's v1 job routes on one ``jobs`` table.

    PEER_DATABASE_URL=postgresql://… PEER_SCHEMA=name uvicorn bench.peer.app:app

Each route is one statement on a pooled connection in autocommit (a single
statement is its own transaction), answered in jobtrail's wire format.
"""

import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.peer.lookups import Lookups, Unauthorized
from bench.peer.schema import ACTIVE

_encode = msgspec.json.Encoder().encode
DAY_MS = 86_400_000
STATUSES = {"scheduled", "running", "completed", "failed", "cancelled"}
_JOB = """job_id AS "jobId", description, status, project_id AS "projectId", action,
    reference_id AS "referenceId", created_at AS "createdAt", updated_at AS "updatedAt",
    start_at AS "startAt", errors"""

SCHEDULE = f"""INSERT INTO jobs (project_id, reference_id, description, status,
    created_at, updated_at, start_at)
    VALUES (%(project)s, %(user)s, %(description)s, 'scheduled', %(now)s, %(now)s, %(start)s)
    ON CONFLICT (project_id, reference_id) WHERE status IN {ACTIVE} DO NOTHING
    RETURNING {_JOB}"""
ACTIVE_JOB = f"""SELECT {_JOB} FROM jobs
    WHERE project_id = %(project)s AND reference_id = %(user)s AND status IN {ACTIVE}"""
GET = f"SELECT {_JOB} FROM jobs WHERE job_id = %s AND project_id = %s"
CANCEL = f"""UPDATE jobs SET status = 'cancelled', updated_at = %s
    WHERE job_id = %s AND project_id = %s AND status IN {ACTIVE} RETURNING {_JOB}"""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(payload: Any, status: int = 200) -> Response:
    return Response(_encode(payload), status, media_type="application/json")


def _pool(request: Request) -> AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]]:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = request.app.state.pool
    return pool


async def _project(request: Request) -> int:
    lookups: Lookups = request.app.state.lookups
    header = request.headers.get("authorization", "")
    return await lookups.project_id(header, request.path_params["projectKey"])


def _job_id(request: Request) -> int:
    raw: str = request.path_params["jobId"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) == 0:
        raise ApiError(404, "Job not found.")
    return int(raw)


def _bounded(request: Request, name: str, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer from 1 to {high}.")
    return int(raw)


async def schedule(request: Request) -> Response:
    project = await _project(request)
    user: str = request.path_params["userId"]
    if not 0 < len(user) <= 256 or not user.isprintable():
        raise ApiError(400, "userId must be 1 to 256 printable characters.")
    now = int(time.time() * 1000)
    values = {
        "project": project,
        "user": user,
        "description": f"Delete user sessions of userId = {user}",
        "now": now,
        "start": (now // DAY_MS + 1) * DAY_MS,  # the next UTC midnight, as OpenReplay
    }
    async with _pool(request).connection() as conn:
        while True:  # the user's active job may end between the two statements
            job = await (await conn.execute(SCHEDULE, values)).fetchone()
            job = job or await (await conn.execute(ACTIVE_JOB, values)).fetchone()
            if job is not None:
                return _json({"data": job})


async def get_job(request: Request) -> Response:
    project = await _project(request)
    async with _pool(request).connection() as conn:
        job = await (await conn.execute(GET, (_job_id(request), project))).fetchone()
    if job is None:
        raise ApiError(404, "Job not found.")
    return _json({"data": job})


async def cancel_job(request: Request) -> Response:
    project, job_id = await _project(request), _job_id(request)
    async with _pool(request).connection() as conn:
        now = int(time.time() * 1000)
        job = await (await conn.execute(CANCEL, (now, job_id, project))).fetchone()
        if job is None:
            job = await (await conn.execute(GET, (job_id, project))).fetchone()
            if job is None:
                raise ApiError(404, "Job not found.")
            raise ApiError(501, f"Job {job_id} is {job['status']} and cannot be cancelled.")
    return _json({"data": job})


async def list_jobs(request: Request) -> Response:
    project = await _project(request)
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(sorted(STATUSES))}.")
    limit, page = _bounded(request, "limit", 200), _bounded(request, "page", 10**9)
    sql = f"SELECT {_JOB} FROM jobs WHERE project_id = %s"
    params: list[object] = [project]
    if status is not None:
        sql += " AND status = %s"
        params.append(status)
    sql += " ORDER BY job_id DESC"
    if limit is not None or page is not None:
        limit = limit or 50
        sql += " LIMIT %s OFFSET %s"
        params += [limit, ((page or 1) - 1) * limit]
    async with _pool(request).connection() as conn:
        jobs = await (await conn.execute(sql, params)).fetchall()
    return _json({"data": jobs})


async def health(request: Request) -> Response:
    async with _pool(request).connection() as conn:
        await conn.execute("SELECT 1")
    return _json({"status": "ok"})


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError | Unauthorized)
    return _json({"errors": [str(exc)]}, exc.status)


async def _unavailable(_: Request, exc: Exception) -> Response:
    return _json({"errors": ["The database is unavailable; try again shortly."]}, 503)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    schema = os.environ["PEER_SCHEMA"]
    # A connection for each of the benchmark's 16 clients: none waits for the pool.
    pool = AsyncConnectionPool(
        os.environ["PEER_DATABASE_URL"],
        min_size=4,
        max_size=int(os.environ.get("PEER_POOL_SIZE", "16")),
        kwargs={"autocommit": True, "row_factory": dict_row, "options": f"-csearch_path={schema}"},
        open=False,
    )
    await pool.open(wait=True)
    app.state.pool = pool
    app.state.lookups = Lookups(pool)
    try:
        yield
    finally:
        await pool.close()


prefix = "/api/v1/{projectKey}"
app = Starlette(
    routes=[
        Route(prefix + "/users/{userId:path}", schedule, methods=["DELETE"]),
        Route(prefix + "/jobs/{jobId}", get_job, methods=["GET"]),
        Route(prefix + "/jobs/{jobId}", cancel_job, methods=["DELETE"]),
        Route(prefix + "/jobs", list_jobs, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ],
    exception_handlers={
        ApiError: _api_error,
        Unauthorized: _api_error,
        psycopg.OperationalError: _unavailable,
    },
    lifespan=lifespan,
)

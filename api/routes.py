"""HTTP handlers: each decodes its input, calls one use case, and encodes the result.

They are plain functions: Starlette runs them in its thread pool, where the
synchronous event store and SQLAlchemy belong. The exceptions are the hottest
reads, a job as it is now and a page of jobs, tried first on the event loop
(ADR 22). Each carries its OpenAPI operation
(``@documented``), and :func:`api_routes` is the public API's route table.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from api import params
from api.auth import authorize
from api.bodies import ErrorBody, EventListBody, Health, JobBody, JobListBody, SessionListBody
from api.composition import Services
from api.convertors import segments
from api.documented import Operation, Parameter, Reply, documented
from api.params import (
    AT,
    AT_OR_VERSION,
    DEFAULT_PAGE_LIMIT,
    END_BEFORE_START,
    END_DATE,
    JOB_ID,
    PAGE,
    PROJECT_KEY,
    START_DATE,
    USER_ID,
    VERSION,
    PageSize,
)
from api.resources import Resource, resource_table
from api.responses import MsgspecResponse, data, encoded, streamed_data_list
from application.errors import WouldWait
from domain.lifecycle import JobStatus
from domain.request import RESERVED_USER_ID

PREFIX = "/api/v1/{projectKey}"


def _error(status: int, description: str) -> Reply:
    return Reply(status, description, ErrorBody)


AUTH_ERRORS = (
    _error(401, "Missing or invalid API key."),
    _error(404, "Unknown project, or a project of another organization."),
    _error(503, "The database is unavailable."),
)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@documented(
    Operation(
        "listJobs",
        "List every job of the project, newest first.",
        parameters=(
            PROJECT_KEY,
            Parameter("limit", "query", PageSize, "Page size; without it every job is returned."),
            PAGE,
            Parameter("status", "query", JobStatus),
        ),
        responses=(
            Reply(200, "The jobs.", JobListBody),
            _error(400, "A malformed limit, page or status."),
            *AUTH_ERRORS,
        ),
    )
)
def list_jobs(request: Request) -> Response:
    _, project = authorize(request)
    status, limit, page = params.listing(request)
    queries = _services(request).queries
    if limit is None:
        return streamed_data_list(queries.all(project.id, status))
    return data(queries.page(project.id, status, limit, page))


async def list_jobs_on_loop(request: Request) -> Response:
    """:func:`list_jobs` for one page, by a key and project in memory: no thread
    needed. The whole list is streamed by list_jobs, in its thread."""
    _, project = authorize(request, remembered_only=True)
    status, limit, page = params.listing(request)
    if limit is None:
        raise WouldWait("the whole list is streamed from a thread")
    return data(await _services(request).queries.page_on_loop(project.id, status, limit, page))


@documented(
    Operation(
        "getJob",
        "A job's status and details; with at or version, as it was then.",
        parameters=(
            PROJECT_KEY,
            JOB_ID,
            AT,
            VERSION,
        ),
        responses=(
            Reply(200, "The job.", JobBody),
            _error(400, f"A malformed at or version. {AT_OR_VERSION}"),
            *AUTH_ERRORS,
        ),
    )
)
def get_job(request: Request) -> Response:
    _, project = authorize(request)
    job_id = params.job_id(request)
    at, version = params.as_of(request)
    current = _services(request).queries.get(project.id, job_id)  # 404 unless theirs
    if at is None and version is None:
        return data(current)
    return data(_services(request).history.as_of(project.id, job_id, at, version))


async def get_job_on_loop(request: Request) -> Response:
    """:func:`get_job` for the job as it is now, by a key and project in memory: no
    thread needed. Anything else would wait (``WouldWait``), and goes to get_job."""
    _, project = authorize(request, remembered_only=True)
    job_id = params.job_id(request)
    if params.as_of(request) != (None, None):
        raise WouldWait("a past state is read from the log")
    return data(await _services(request).queries.get_on_loop(project.id, job_id))


@documented(
    Operation(
        "getJobEvents",
        "Every event of the job, in order, from the event log.",
        parameters=(PROJECT_KEY, JOB_ID),
        responses=(Reply(200, "The events.", EventListBody), *AUTH_ERRORS),
    )
)
def job_events(request: Request) -> Response:
    _, project = authorize(request)
    job_id = params.job_id(request)
    _services(request).queries.get(project.id, job_id)  # 404 unless theirs, 409 if damaged
    return data(_services(request).history.events(project.id, job_id))


@documented(
    Operation(
        "cancelJob",
        "Cancel a job that is scheduled or running.",
        parameters=(PROJECT_KEY, JOB_ID),
        responses=(
            Reply(200, "The cancelled job.", JobBody),
            _error(409, "The job kept changing while the cancel was retried."),
            _error(501, "The job is completed, failed or cancelled already."),
            *AUTH_ERRORS,
        ),
    )
)
def cancel_job(request: Request) -> Response:
    principal, project = authorize(request)
    job_id = params.job_id(request)
    _services(request).queries.get(project.id, job_id)  # 404 unless theirs, 409 if damaged
    outcome = _services(request).commands.cancel(project.id, job_id, principal.actor)
    return data(outcome.job)


@documented(
    Operation(
        "deleteUserData",
        "Schedule the deletion of everything held about a user.",
        description="Returns the user's active deletion job if one exists.",
        parameters=(PROJECT_KEY, USER_ID),
        responses=(
            Reply(200, "The scheduled (or already active) job.", JobBody),
            _error(400, f"An empty, too long or malformed userId. {RESERVED_USER_ID}"),
            _error(409, "Concurrent requests kept conflicting."),
            *AUTH_ERRORS,
        ),
    )
)
def delete_user_data(request: Request) -> Response:
    principal, project = authorize(request)
    user_id = params.user_id(request)
    commands = _services(request).commands
    outcome = commands.schedule_user_deletion(project.id, user_id, principal.actor)
    return data(outcome.job)


@documented(
    Operation(
        "listUserSessions",
        "The user's sessions, newest first (what a deletion removes).",
        parameters=(
            PROJECT_KEY,
            USER_ID,
            START_DATE,
            END_DATE,
            Parameter("limit", "query", PageSize, f"Page size (default {DEFAULT_PAGE_LIMIT})."),
            PAGE,
        ),
        responses=(
            Reply(200, "The sessions.", SessionListBody),
            _error(400, f"A malformed userId, date, limit or page. {END_BEFORE_START}"),
            *AUTH_ERRORS,
        ),
    )
)
def user_sessions(request: Request) -> Response:
    _, project = authorize(request)
    user_id = params.user_id(request)
    start, end, limit, page = params.session_window(request)
    found = _services(request).sessions.of_user(
        project.id, user_id, start, end, limit, (page - 1) * limit
    )
    return data(found)


@documented(
    Operation(
        "health",
        "Liveness and database reachability.",
        needs_api_key=False,
        responses=(
            Reply(200, "Alive, and the database takes writes.", Health),
            Reply(503, "Alive; the database is read-only or away.", Health),
        ),
    )
)
def health(request: Request) -> Response:
    """503 whenever jobs cannot be scheduled: the database is away or refuses writes."""
    database = _services(request).database.health()
    if database != "ok":
        return MsgspecResponse({"status": "degraded", "database": database}, 503)
    return MsgspecResponse({"status": "ok", "database": database})


@documented(
    Operation(
        "openapi",
        "This document.",
        needs_api_key=False,
        responses=(Reply(200, "The OpenAPI document."),),
    )
)
async def openapi_json(request: Request) -> Response:
    """The document the app derived from its own routes when it was created."""
    body: bytes = request.app.state.openapi_json
    return encoded(body)


Handler = Callable[[Request], Response]
LoopHandler = Callable[[Request], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response] | Response]


def api_routes(
    with_deadline: Callable[[Handler], Endpoint],
    loop_first: Callable[[LoopHandler, Handler], Endpoint],
) -> list[Resource]:
    """The public API, one resource per path. ``with_deadline`` wraps each handler that
    reaches the database: the app runs it in its thread pool and answers 503 if it
    takes too long. ``loop_first`` tries an async handler on the event loop first,
    within the same deadline, and the thread's handler when that would wait."""
    user = f"{PREFIX}/users/{segments('userId')}"
    return resource_table(
        [
            Resource(f"{PREFIX}/jobs", {"GET": loop_first(list_jobs_on_loop, list_jobs)}),
            Resource(
                f"{PREFIX}/jobs/{{jobId}}",
                {
                    "GET": loop_first(get_job_on_loop, get_job),
                    "DELETE": with_deadline(cancel_job),
                },
            ),
            Resource(f"{PREFIX}/jobs/{{jobId}}/events", {"GET": with_deadline(job_events)}),
            # The user's parameter matches slashes: this path is the sessions', not the
            # user "…/sessions"'s (see api.resources).
            Resource(f"{user}/sessions", {"GET": with_deadline(user_sessions)}),
            Resource(user, {"DELETE": with_deadline(delete_user_data)}),
            Resource("/healthz", {"GET": with_deadline(health)}),
            # Bytes already in memory: answered on the event loop, no thread, no deadline.
            Resource("/openapi.json", {"GET": openapi_json}),
        ]
    )

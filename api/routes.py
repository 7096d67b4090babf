"""HTTP handlers: each decodes its input, calls one use case, and encodes the result.

Every handler is async (ADR 28). Reads of the read model and of the tenancy tables
are awaited on the event loop; what runs on eventsourcing's synchronous event
store (commands, a job's history) runs in a handler thread (``in_thread``). Each
carries its OpenAPI operation (``@documented``), and :func:`api_routes` is the
public API's route table.
"""

from starlette.requests import Request
from starlette.responses import Response

from api import params
from api.auth import authorize
from api.bodies import ErrorBody, EventListBody, Health, JobBody, JobListBody, SessionListBody
from api.composition import Services
from api.convertors import segments
from api.documented import Operation, Parameter, Reply, documented
from api.handler_threads import in_thread
from api.in_time import answered_in_time
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
async def list_jobs(request: Request) -> Response:
    _, project = await authorize(request)
    status, limit, page = params.listing(request)
    queries = _services(request).queries
    if limit is None:
        return streamed_data_list(queries.all(project.id, status))
    return data(await queries.page(project.id, status, limit, page))


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
async def get_job(request: Request) -> Response:
    _, project = await authorize(request)
    job_id = params.job_id(request)
    at, version = params.as_of(request)
    current = await _services(request).queries.get(project.id, job_id)  # 404 unless theirs
    if at is None and version is None:
        return data(current)
    # A past state is folded from the log's events, by eventsourcing.
    history = _services(request).history
    return data(await in_thread(request, history.as_of, project.id, job_id, at, version))


@documented(
    Operation(
        "getJobEvents",
        "Every event of the job, in order, from the event log.",
        parameters=(PROJECT_KEY, JOB_ID),
        responses=(Reply(200, "The events.", EventListBody), *AUTH_ERRORS),
    )
)
async def job_events(request: Request) -> Response:
    _, project = await authorize(request)
    job_id = params.job_id(request)
    await _services(request).queries.get(project.id, job_id)  # 404 unless theirs, 409 if damaged
    history = _services(request).history
    return data(await in_thread(request, history.events, project.id, job_id))


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
async def cancel_job(request: Request) -> Response:
    principal, project = await authorize(request)
    job_id = params.job_id(request)
    await _services(request).queries.get(project.id, job_id)  # 404 unless theirs, 409 if damaged
    commands = _services(request).commands
    outcome = await in_thread(request, commands.cancel, project.id, job_id, principal.actor)
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
async def delete_user_data(request: Request) -> Response:
    principal, project = await authorize(request)
    user_id = params.user_id(request)
    scheduling = _services(request).scheduling
    outcome = await scheduling.schedule_user_deletion(project.id, user_id, principal.actor)
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
async def user_sessions(request: Request) -> Response:
    _, project = await authorize(request)
    user_id = params.user_id(request)
    start, end, limit, page = params.session_window(request)
    # OpenReplay's own database, through the adapter its configuration names.
    of_user = _services(request).sessions.of_user
    offset = (page - 1) * limit
    return data(await in_thread(request, of_user, project.id, user_id, start, end, limit, offset))


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
async def health(request: Request) -> Response:
    """503 whenever jobs cannot be scheduled: the database is away or refuses writes."""
    database = await in_thread(request, _services(request).database.health)
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


def api_routes() -> list[Resource]:
    """The public API, one resource per path; each handler that reaches the database
    is answered in time (api.in_time)."""
    user = f"{PREFIX}/users/{segments('userId')}"
    in_time = answered_in_time
    return resource_table(
        [
            # Scheduling first: the router tries the routes in order, and this one is
            # the hottest (the paths are disjoint, so the order changes no answer).
            Resource(user, {"DELETE": in_time(delete_user_data)}),
            Resource(f"{PREFIX}/jobs", {"GET": in_time(list_jobs)}),
            Resource(
                f"{PREFIX}/jobs/{{jobId}}",
                {"GET": in_time(get_job), "DELETE": in_time(cancel_job)},
            ),
            Resource(f"{PREFIX}/jobs/{{jobId}}/events", {"GET": in_time(job_events)}),
            # The user's parameter matches slashes: this path is the sessions', not the
            # user "…/sessions"'s (see api.resources).
            Resource(f"{user}/sessions", {"GET": in_time(user_sessions)}),
            Resource("/healthz", {"GET": in_time(health)}),
            # Bytes already in memory: no database, no deadline.
            Resource("/openapi.json", {"GET": openapi_json}),
        ]
    )

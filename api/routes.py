"""HTTP handlers: each decodes its input, calls one use case, and encodes the result.

They are plain functions: Starlette runs them in its thread pool, where the
synchronous event store and SQLAlchemy belong.
"""

from starlette.requests import Request
from starlette.responses import Response

from api import params
from api.auth import authorize
from api.composition import Services
from api.responses import MsgspecResponse, data, streamed_data_list


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def list_jobs(request: Request) -> Response:
    _, project = authorize(request)
    status, limit, page = params.listing(request)
    queries = _services(request).queries
    if limit is None:
        return streamed_data_list(queries.all(project.id, status))
    return data(queries.page(project.id, status, limit, page))


def get_job(request: Request) -> Response:
    _, project = authorize(request)
    job_id = params.job_id(request)
    at, version = params.as_of(request)
    current = _services(request).queries.get(project.id, job_id)  # 404 unless theirs
    if at is None and version is None:
        return data(current)
    return data(_services(request).history.as_of(project.id, job_id, at, version))


def job_events(request: Request) -> Response:
    _, project = authorize(request)
    job_id = params.job_id(request)
    _services(request).queries.get(project.id, job_id)  # 404 unless theirs, 409 if damaged
    return data(_services(request).history.events(project.id, job_id))


def cancel_job(request: Request) -> Response:
    principal, project = authorize(request)
    job_id = params.job_id(request)
    _services(request).queries.get(project.id, job_id)  # 404 unless theirs, 409 if damaged
    outcome = _services(request).commands.cancel(project.id, job_id, principal.actor)
    return data(outcome.job)


def delete_user_data(request: Request) -> Response:
    principal, project = authorize(request)
    user_id = params.user_id(request)
    commands = _services(request).commands
    outcome = commands.schedule_user_deletion(project.id, user_id, principal.actor)
    return data(outcome.job)


def user_sessions(request: Request) -> Response:
    _, project = authorize(request)
    user_id = params.user_id(request)
    start, end, limit, page = params.session_window(request)
    found = _services(request).sessions.of_user(
        project.id, user_id, start, end, limit, (page - 1) * limit
    )
    return data(found)


def health(request: Request) -> Response:
    """503 whenever jobs cannot be scheduled: the database is away or refuses writes."""
    database = _services(request).database.health()
    if database != "ok":
        return MsgspecResponse({"status": "degraded", "database": database}, 503)
    return MsgspecResponse({"status": "ok", "database": database})

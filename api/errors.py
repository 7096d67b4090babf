"""Every error leaves as JSON ``{"errors": [...]}`` with the status it deserves.

The handlers are async: they only format, and a hop to the thread pool would
cost more than the work."""

import logging

from eventsourcing.persistence import InterfaceError as EventStoreInterfaceError
from eventsourcing.persistence import OperationalError as EventStoreOperationalError
from sqlalchemy.exc import InterfaceError as SqlInterfaceError
from sqlalchemy.exc import OperationalError as SqlOperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.responses import errors
from application.errors import ConcurrencyConflict, DamagedRecord, JobNotFound, ProjectionStalled
from application.projection import UnknownEvent
from domain.errors import IllegalTransition, InvalidJobRequest, JobNotCancellable
from infrastructure.database import DatabaseUnavailable

log = logging.getLogger("jobtrail.api")


class ApiError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return errors(exc.status_code, exc.message)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return errors(exc.status_code, exc.detail, headers=dict(exc.headers or {}))


def _status(status_code: int) -> "type[object]":
    async def handler(_: Request, exc: Exception) -> Response:
        return errors(status_code, str(exc))

    return handler  # type: ignore[return-value]


async def _unavailable(_: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", type(exc).__name__)
    return errors(
        503, "The database is unavailable; try again shortly.", headers={"Retry-After": "1"}
    )


async def _projection_stopped(_: Request, exc: Exception) -> Response:
    log.error("the read model is stopped: %s", exc)
    return errors(503, "The read model is stopped on an event it cannot apply; see the logs.")


async def _damaged(_: Request, exc: Exception) -> Response:
    log.error("damaged record: %s", exc)
    return errors(
        409,
        "This job's record in the event log is damaged and cannot be read; "
        "`jobtrail verify` names the event. Other jobs are not affected.",
    )


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return errors(500, "Internal server error.")


EXCEPTION_HANDLERS = {
    ApiError: _api_error,
    HTTPException: _http_error,
    JobNotFound: _status(404),
    JobNotCancellable: _status(501),
    InvalidJobRequest: _status(400),
    IllegalTransition: _status(409),
    ConcurrencyConflict: _status(409),
    ProjectionStalled: _status(503),
    UnknownEvent: _projection_stopped,
    DamagedRecord: _damaged,
    SqlOperationalError: _unavailable,
    SqlInterfaceError: _unavailable,
    EventStoreOperationalError: _unavailable,
    EventStoreInterfaceError: _unavailable,
    DatabaseUnavailable: _unavailable,
    Exception: _unexpected,
}

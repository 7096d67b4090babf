"""Decoding path and query parameters into the values the use cases take.

Each parameter's type (``EpochMs``, ``PageSize``…) is both what this module checks
and what the OpenAPI document says (``api.routes`` declares its parameters with these
types): the two cannot disagree. What JSON Schema cannot say (two parameters that
exclude each other) is refused here with a message the document quotes.
"""

from typing import Annotated, Any, get_args
from urllib.parse import unquote_to_bytes

from msgspec import Meta
from starlette.requests import Request

from api.documented import Parameter
from api.errors import ApiError
from application.epoch import moment_ms
from domain.errors import InvalidJobRequest
from domain.lifecycle import JobStatus
from domain.request import (
    CONTROL_CHARACTER_RANGES,
    MAX_REFERENCE_ID_LENGTH,
    RESERVED_USER_ID,
    validate_user_id,
)

MAX_JOB_ID = 2**63 - 1
MAX_LIMIT = 200
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE = 10**9
MAX_DIGITS = 18
"""The most digits a number in a query is read with (``moment_ms`` reads ``at`` so too):
int() of a long string costs time quadratic in its length."""
MAX_EPOCH_MS = 10**MAX_DIGITS - 1
"""The latest time a query names, in epoch milliseconds: all 18 digits allow."""
_STATUSES = {status.value for status in JobStatus}

EpochMs = Annotated[int, Meta(ge=0, le=MAX_EPOCH_MS)]
PageSize = Annotated[int, Meta(ge=1, le=MAX_LIMIT)]
PageNumber = Annotated[int, Meta(ge=1, le=MAX_PAGE)]
EventNumber = Annotated[int, Meta(ge=1, le=MAX_PAGE)]

_NO_CONTROL_CHARACTER = "".join(
    f"\\u{low:04x}-\\u{high:04x}" for low, high in CONTROL_CHARACTER_RANGES
)
UserId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_REFERENCE_ID_LENGTH,
        pattern=f"^[^{_NO_CONTROL_CHARACTER}]*$",
    ),
]

AT_OR_VERSION = "Give at or version, not both."
END_BEFORE_START = "end_date must not be before start_date."

PROJECT_KEY = Parameter("projectKey", "path", str, "The project's key.")
JOB_ID = Parameter(
    "jobId",
    "path",
    Annotated[str, Meta(pattern="^[0-9]+$")],
    "The id returned by the user deletion call.",
)
USER_ID = Parameter(
    "userId",
    "path",
    UserId,
    "The user's id, with no control characters (NUL, line feed…); send a slash in it as "
    "%2F (a path ending in /sessions is the user's sessions, not a user). " + RESERVED_USER_ID,
)
PAGE = Parameter("page", "query", PageNumber)
AT = Parameter(
    "at",
    "query",
    EpochMs,
    "The job as it was at this time, in epoch milliseconds (an ISO 8601 time is read "
    f"too; write the + of its zone as %2B). {AT_OR_VERSION}",
)
VERSION = Parameter(
    "version",
    "query",
    EventNumber,
    f"The job as it was after its event number version. {AT_OR_VERSION}",
)
START_DATE = Parameter("start_date", "query", EpochMs, "Sessions started at or after (epoch ms).")
END_DATE = Parameter(
    "end_date", "query", EpochMs, f"Sessions started at or before (epoch ms). {END_BEFORE_START}"
)


def _bounds(kind: Any) -> tuple[int, int]:
    """The (ge, le) of an ``Annotated[int, Meta(ge=…, le=…)]``."""
    (meta,) = (argument for argument in get_args(kind)[1:] if isinstance(argument, Meta))
    assert meta.ge is not None and meta.le is not None
    return int(meta.ge), int(meta.le)


def job_id(request: Request) -> int:
    raw: str = request.path_params["jobId"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_JOB_ID:
        raise ApiError(404, "Job not found.")
    return int(raw)


def user_id(request: Request) -> str:
    """The user id of the path, by the domain's rule for user ids (400 otherwise)."""
    value: str = request.path_params["userId"]
    try:
        validate_user_id(value)
    except InvalidJobRequest as error:
        raise ApiError(400, str(error)) from None
    if "\ufffd" in value and not _path_is_utf8(request):
        # The server decoded invalid UTF-8 into U+FFFD: that is another user's id.
        raise ApiError(400, "userId must be valid UTF-8.")
    return value


def _path_is_utf8(request: Request) -> bool:
    raw_path: bytes = request.scope.get("raw_path") or b""
    try:
        unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bounded_int(request: Request, name: str, kind: Any) -> int | None:
    """The query parameter ``name``, an integer within the bounds of its type."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_DIGITS:
        raise ApiError(400, f"{name} must be an integer.")
    value = int(raw)
    low, high = _bounds(kind)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}.")
    return value


def listing(request: Request) -> tuple[str | None, int | None, int]:
    """(status, limit, page); a None limit means every job."""
    status = request.query_params.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(sorted(_STATUSES))}.")
    limit = _bounded_int(request, "limit", PageSize)
    page = _bounded_int(request, "page", PageNumber)
    if page is not None and limit is None:
        limit = DEFAULT_PAGE_LIMIT
    return status, limit, page or 1


def session_window(request: Request) -> tuple[int | None, int | None, int, int]:
    """(start_date, end_date, limit, page) of a user-sessions listing."""
    start = _bounded_int(request, "start_date", EpochMs)
    end = _bounded_int(request, "end_date", EpochMs)
    if start is not None and end is not None and end < start:
        raise ApiError(400, END_BEFORE_START)
    limit = _bounded_int(request, "limit", PageSize) or DEFAULT_PAGE_LIMIT
    page = _bounded_int(request, "page", PageNumber) or 1
    return start, end, limit, page


def as_of(request: Request) -> tuple[int | None, int | None]:
    """(at, version) for a job as it was; both None for the job as it is. ``at`` is
    epoch milliseconds or ISO 8601, as the CLI's ``--at``."""
    if not request.scope["query_string"]:
        return None, None  # the usual read: no query string to parse
    raw_at = request.query_params.get("at")
    at = None if raw_at is None else moment_ms(raw_at)
    earliest, latest = _bounds(EpochMs)
    if raw_at is not None and (at is None or not earliest <= at <= latest):
        raise ApiError(
            400,
            "at must be epoch milliseconds or an ISO 8601 time "
            "(in a URL, write the + of a time zone as %2B).",
        )
    version = _bounded_int(request, "version", EventNumber)
    if at is not None and version is not None:
        raise ApiError(400, AT_OR_VERSION)
    return at, version

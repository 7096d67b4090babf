"""Decoding path and query parameters into the values the use cases take."""

from urllib.parse import unquote_to_bytes

from starlette.requests import Request

from api.errors import ApiError
from application.views import moment_ms
from domain.errors import InvalidJobRequest
from domain.lifecycle import JobStatus
from domain.request import validate_user_id

MAX_JOB_ID = 2**63 - 1
MAX_LIMIT = 200
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE = 10**9
_STATUSES = {status.value for status in JobStatus}


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


def _bounded_int(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ApiError(400, f"{name} must be an integer.")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}.")
    return value


def listing(request: Request) -> tuple[str | None, int | None, int]:
    """(status, limit, page); a None limit means every job."""
    status = request.query_params.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(sorted(_STATUSES))}.")
    limit = _bounded_int(request, "limit", 1, MAX_LIMIT)
    page = _bounded_int(request, "page", 1, MAX_PAGE)
    if page is not None and limit is None:
        limit = DEFAULT_PAGE_LIMIT
    return status, limit, page or 1


def session_window(request: Request) -> tuple[int | None, int | None, int, int]:
    """(start_date, end_date, limit, page) of a user-sessions listing."""
    start = _bounded_int(request, "start_date", 0, MAX_JOB_ID)
    end = _bounded_int(request, "end_date", 0, MAX_JOB_ID)
    if start is not None and end is not None and end < start:
        raise ApiError(400, "end_date must not be before start_date.")
    limit = _bounded_int(request, "limit", 1, MAX_LIMIT) or DEFAULT_PAGE_LIMIT
    page = _bounded_int(request, "page", 1, MAX_PAGE) or 1
    return start, end, limit, page


def as_of(request: Request) -> tuple[int | None, int | None]:
    """(at, version) for a job as it was; both None for the job as it is. ``at`` is
    epoch milliseconds or ISO 8601, as the CLI's ``--at``."""
    if not request.scope["query_string"]:
        return None, None  # the usual read: no query string to parse
    raw_at = request.query_params.get("at")
    at = None if raw_at is None else moment_ms(raw_at)
    if raw_at is not None and (at is None or at < 0):
        raise ApiError(
            400,
            "at must be epoch milliseconds or an ISO 8601 time "
            "(in a URL, write the + of a time zone as %2B).",
        )
    version = _bounded_int(request, "version", 1, MAX_PAGE)
    if at is not None and version is not None:
        raise ApiError(400, "Give at or version, not both.")
    return at, version

"""ASGI middleware: bounded request bodies, and an access log that names no secret.

The access log names the route template (not the path, which carries user ids,
personal data) and the API key by its id. Uvicorn's own access log is switched
off because it prints raw paths. The request metrics are labelled by route template
and by method, any method but the standard ones being ``OTHER``: nothing a client
sends adds a series.
"""

import logging
import random
import re
from time import perf_counter

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id
from api.metrics import Metrics
from api.security_headers import NOSNIFF

access = logging.getLogger("jobtrail.access")
MAX_BODY_BYTES = 64 * 1024


async def _reject(send: Send, status: int, message: str) -> None:
    body = msgspec.json.encode({"errors": [message]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """No endpoint takes more than a small form: a body over the limit is refused
    before routing, whether its length is declared or it comes in chunks. The body
    is read first (at most the limit) and handed on as it came."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The two headers in one pass, the last of each when repeated (as a dict of
        # them all would have it) without building that dict on every request.
        length = coding = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                coding = value
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            status = 413 if length.isdigit() else 400
            text = "Request body too large." if status == 413 else "Bad Content-Length."
            await _reject(send, status, text)
            return
        if length in (None, b"0") and (coding is None or b"chunked" not in coding):
            await self.app(scope, receive, send)
            return
        chunks, received = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await _reject(send, 413, "Request body too large.")
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks)}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)


_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
_HEADER = b"x-request-id"


_METHOD_LABELS = {
    method: method for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
}
"""The methods a request series is labelled with; any other a client makes up is
``OTHER``, so clients cannot add series (each kept in memory) without bound. Routes
are bounded already: a route's template, or ``<unrouted>``."""


def _new_request_id() -> bytes:
    """32 hex digits, as uuid4().hex, from the random module's generator: a request id
    is for finding a request's lines, not a secret (a client may choose its own), so
    it needs no system call per request. The generator is seeded anew in a forked
    child, so processes do not repeat each other's ids."""
    return b"%032x" % random.getrandbits(128)


class Observe:
    """Request id, access log and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                incoming = value  # the last one, when repeated
        rid_bytes = (
            incoming if incoming is not None and _REQUEST_ID.match(incoming) else _new_request_id()
        )
        rid = rid_bytes.decode("latin-1")
        token = request_id.set(rid)
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Every answer, JSON, metrics, stylesheet or refusal, is taken for what
                # its Content-Type says: never sniffed into HTML or a script.
                message["headers"] = [
                    *message.get("headers", ()),
                    (_HEADER, rid_bytes),
                    NOSNIFF,
                ]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = perf_counter() - started
            route = _template(scope.get("route"))
            method = _METHOD_LABELS.get(scope["method"], "OTHER")
            self.metrics.observe_request(route or "<unrouted>", method, status, elapsed)
            if access.isEnabledFor(logging.INFO):
                _log_access(scope, route, status, elapsed)
            request_id.reset(token)


def _log_access(scope: Scope, route: str | None, status: int, elapsed: float) -> None:
    state = scope.get("state") or {}
    method = scope["method"]
    # The record Logger.info(..., extra=...) would make, without finding the caller
    # in the stack on every request: this function is the caller, always.
    record = logging.getLogRecordFactory()(
        access.name,
        logging.INFO,
        _CALLER_PATH,
        _CALLER_LINE,
        "%s %s %s %.1fms key=%s",
        (method, route or "<unrouted>", status, elapsed * 1000, state.get("key_id", "-")),
        None,
        "_log_access",
    )
    fields = record.__dict__
    fields["method"] = method
    fields["route"] = route
    fields["status"] = status
    fields["duration_ms"] = round(elapsed * 1000, 2)
    fields["key_id"] = state.get("key_id")
    fields["job_id"] = (scope.get("path_params") or {}).get("jobId")
    access.handle(record)


_CALLER_PATH = _log_access.__code__.co_filename
_CALLER_LINE = _log_access.__code__.co_firstlineno


def _template(route: object) -> str | None:
    """The route's path as the API documents it: ``{userId}``, not the convertor that
    matches it (``{userId:anything}``); worked out once a route."""
    path = getattr(route, "path", None)
    if path is None:
        return None
    template = _TEMPLATES.get(path)
    if template is None:
        template = _TEMPLATES[path] = _CONVERTOR.sub(r"{\1}", path)
    return template


_CONVERTOR = re.compile(r"\{(\w+):\w+\}")
_TEMPLATES: dict[str, str] = {}
"""A route's path to its template: as many as the app has routes."""

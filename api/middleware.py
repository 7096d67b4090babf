"""ASGI middleware: bounded request bodies, and an access log that names no secret.

The access log names the route template (not the path, which carries user ids,
personal data) and the API key by its id. Uvicorn's own access log is switched
off because it prints raw paths.
"""

import logging
import os
import re
import time
from typing import Any

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
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            status = 413 if length.isdigit() else 400
            text = "Request body too large." if status == 413 else "Bad Content-Length."
            await _reject(send, status, text)
            return
        if length in (None, b"0") and b"chunked" not in headers.get(b"transfer-encoding", b""):
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


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Observe:
    """Request id, access log and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # 32 random hex digits, as uuid4().hex but without building a UUID.
        rid = incoming if _REQUEST_ID.match(incoming) else os.urandom(16).hex()
        token = request_id.set(rid)
        status: dict[str, Any] = {"code": 500}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                # Every answer, JSON, metrics, stylesheet or refusal, is taken for what
                # its Content-Type says: never sniffed into HTML or a script.
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode()),
                    NOSNIFF,
                ]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - started
            route = _template(scope.get("route"))
            self.metrics.observe_request(
                route or "<unrouted>", scope["method"], status["code"], elapsed
            )
            if access.isEnabledFor(logging.INFO):
                _log_access(scope, route, status["code"], elapsed)
            request_id.reset(token)


def _log_access(scope: Scope, route: str | None, status: int, elapsed: float) -> None:
    state = scope.get("state") or {}
    access.info(
        "%s %s %s %.1fms key=%s",
        scope["method"],
        route or "<unrouted>",
        status,
        elapsed * 1000,
        state.get("key_id", "-"),
        extra={
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "key_id": state.get("key_id"),
            "job_id": (scope.get("path_params") or {}).get("jobId"),
        },
    )


def _template(route: object) -> str | None:
    """The route's path as the API documents it: ``{userId}``, not the convertor that
    matches it (``{userId:anything}``)."""
    path = getattr(route, "path", None)
    return None if path is None else _CONVERTOR.sub(r"{\1}", path)


_CONVERTOR = re.compile(r"\{(\w+):\w+\}")

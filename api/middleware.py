"""ASGI middleware: bounded request bodies, and an access log that names no secret.

The access log names the route template (not the path, which carries user ids,
personal data) and the API key by its id. Uvicorn's own access log is switched
off because it prints raw paths.
"""

import logging
import time
from typing import Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """No endpoint takes a body: anything over the limit is refused before routing."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            status = 413 if length.isdigit() else 400
            text = "Request body too large." if status == 413 else "Bad Content-Length."
            await _reject(send, status, text)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        await self.app(scope, bounded_receive, send)


class BodyTooLarge(Exception):
    pass


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            state = scope.get("state") or {}
            access.info(
                "%s %s %s %.1fms key=%s",
                scope["method"],
                getattr(route, "path", "<unrouted>"),
                status["code"],
                (time.perf_counter() - started) * 1000,
                state.get("key_id", "-"),
                extra={
                    "method": scope["method"],
                    "route": getattr(route, "path", None),
                    "status": status["code"],
                    "key_id": state.get("key_id"),
                    "job_id": (scope.get("path_params") or {}).get("jobId"),
                },
            )

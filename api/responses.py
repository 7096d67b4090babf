"""JSON responses encoded with msgspec."""

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import msgspec
from starlette.responses import Response, StreamingResponse

_encode = msgspec.json.Encoder().encode


class MsgspecResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


def data(payload: Any, status_code: int = 200) -> MsgspecResponse:
    return MsgspecResponse({"data": payload}, status_code=status_code)


def errors(status_code: int, *messages: str, headers: dict[str, str] | None = None) -> Response:
    return MsgspecResponse({"errors": list(messages)}, status_code=status_code, headers=headers)


def streamed_data_list(batches: AsyncIterable[list[Any]]) -> StreamingResponse:
    """``{"data": [...]}`` written batch by batch, so memory stays one batch deep."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"data":['
        first = True
        async for batch in batches:
            if not batch:
                continue
            body = _encode(batch)[1:-1]
            yield body if first else b"," + body
            first = False
        yield b"]}"

    return StreamingResponse(chunks(), media_type="application/json")


def encoded(body: bytes) -> Response:
    """JSON encoded already (the OpenAPI document, say), sent as it is."""
    return Response(body, media_type="application/json")

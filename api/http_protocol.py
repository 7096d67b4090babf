"""The HTTP protocol ``serve`` runs: uvicorn's h11 protocol (uvicorn's choice too,
without httptools installed), with Nagle's algorithm off on every connection, also
with ``--workers N``.

With several workers uvicorn binds the listening socket itself, with protocol 0,
and asyncio turns TCP_NODELAY on only for sockets that say IPPROTO_TCP: each
response's last segment then waits for the client's delayed ACK (about 40 ms on
Linux; uvicorn issue #3149). One worker is not affected, and this changes nothing
there.
"""

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

NAME = "api.http_protocol:NoDelayHTTPProtocol"
"""As uvicorn's ``http`` option takes it: each worker process imports it by name."""


class NoDelayHTTPProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

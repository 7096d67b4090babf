"""Every connection `serve` accepts has Nagle's algorithm off, also on the listening
socket uvicorn binds for several workers, which does not say it is TCP."""

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.http_protocol import NAME, NoDelayHTTPProtocol


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """Never called: these tests only open connections."""


async def nagle_is_off(protocol: type[asyncio.Protocol]) -> bool:
    # Bound as uvicorn binds for --workers N: protocol 0, inherited by each connection.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    config = uvicorn.Config(_app, http=NAME, log_config=None)
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(lambda: protocol(config, state, {}), accepted)  # type: ignore[call-arg]
    try:
        sock = transport.get_extra_info("socket")
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        transport.close()
        client.close()
        listener.close()


def test_a_connection_on_a_socket_that_does_not_say_tcp_gets_nagle_off() -> None:
    assert asyncio.run(nagle_is_off(NoDelayHTTPProtocol))


def test_uvicorns_own_protocol_leaves_it_on_there_which_is_why_ours_exists() -> None:
    assert not asyncio.run(nagle_is_off(H11Protocol))


def test_serve_names_the_protocol_uvicorn_imports_in_each_worker() -> None:
    config = uvicorn.Config(_app, http=NAME, log_config=None)
    config.load()
    assert config.http_protocol_class is NoDelayHTTPProtocol

"""Runs uvicorn with TCP_NODELAY on every accepted connection, also with several
workers: ``python -m bench.nodelay uvicorn bench.peer.app:app --workers 2 …``.

With ``--workers N`` uvicorn binds the listening socket itself, with ``proto`` 0;
accepted connections inherit it, and asyncio sets TCP_NODELAY only on sockets that
say IPPROTO_TCP. Nagle's algorithm then holds each response's body until the
client's delayed ACK, about 40 ms on Linux (uvicorn issue #3149, open as of 0.54).
One process is not affected: uvicorn lets asyncio make that socket. The CRUD peer
starts through this launcher; ``jobtrail serve`` sets TCP_NODELAY itself
(api/http_protocol.py, since 87f22a4)."""

import socket
import sys

import uvicorn.config

_bind_socket = uvicorn.config.Config.bind_socket


def _bind_tcp_socket(config: uvicorn.config.Config) -> socket.socket:
    sock = _bind_socket(config)
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto != 0:
        return sock
    # The same descriptor, saying what it is: the workers get it with its proto.
    return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())


def main() -> None:
    uvicorn.config.Config.bind_socket = _bind_tcp_socket  # type: ignore[method-assign, assignment]
    program, sys.argv = sys.argv[1], sys.argv[1:]
    if program != "uvicorn":
        raise SystemExit(f"bench.nodelay runs uvicorn, not {program!r}")
    uvicorn.main()


if __name__ == "__main__":
    main()

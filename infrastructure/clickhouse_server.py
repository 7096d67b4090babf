"""A ClickHouse server as the ClickHouse targets reach it: one client per URL, made
on first use (clickhouse-connect; over HTTP, or ClickHouse's engine in process
through its ``chdb://`` DSN), and its errors as a target reports them (ADR 24)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from application.ports import TransientTargetError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

_TRANSIENT_CODES = frozenset({159, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 999})
"""Timeouts, overload, memory, read-only and Keeper trouble: worth another try."""


class ClickHouseTargetError(Exception):
    """ClickHouse refused a statement for a reason that retrying will not change."""


class ClickHouseServer:
    """One server (one URL): its client made on first use, and shared by its tables."""

    def __init__(self, url: str) -> None:
        self._url = url
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        # As a message may show it: never the user or password.
        where = parts.path if parts.scheme == "chdb" else f"{parts.hostname}{port}"
        self.shown = f"{parts.scheme}://{where}"
        self._client: Client | None = None

    def client(self) -> "Client":
        if self._client is None:
            # Imported here: a CLI command that never meets ClickHouse does not pay for it.
            import clickhouse_connect

            scheme = urlsplit(self._url).scheme
            extra: dict[str, Any] = (
                {}
                if scheme == "chdb"
                # Without a session, two threads' statements never wait on each other.
                else {"interface": scheme, "autogenerate_session_id": False}
            )
            self._client = clickhouse_connect.get_client(dsn=self._url, **extra)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@contextmanager
def reported_as(label: str, server: str) -> Iterator[None]:
    """ClickHouse's errors as the target's own, by code and name, from None: the
    client's text quotes the statement, and a traceback would show it (ADR 18)."""
    try:
        yield
    except Exception as error:
        failure = failure_of(label, server, error)
        if failure is None:
            raise
        raise failure from None


def failure_of(label: str, server: str, error: Exception) -> Exception | None:
    """The target's error for a client's or engine's error; None for any other."""
    from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

    if not isinstance(error, ClickHouseError):
        return None
    code, name = getattr(error, "code", None), getattr(error, "name", None)
    if code is None:
        if isinstance(error, OperationalError):
            return TransientTargetError(f"{label}: ClickHouse unreachable at {server}")
        return ClickHouseTargetError(f"{label}: ClickHouse {type(error).__name__}")
    text = f"{label}: ClickHouse error {code}" + (f" ({name})" if name else "")
    return TransientTargetError(text) if code in _TRANSIENT_CODES else ClickHouseTargetError(text)

"""A SQL target's failed statement, reported by the target's name and table and the
driver's error type and code: never by the driver's or SQLAlchemy's text, which
shows the statement's parameters, the user's id among them (ADR 18)."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, StatementError

from application.ports import TransientTargetError


class SqlTargetError(Exception):
    """A statement failed for a reason that retrying will not change."""


@contextmanager
def reported_as(label: str) -> Iterator[None]:
    """A failed statement as the target's own error, from None (a traceback would
    show SQLAlchemy's text, parameters and all): a dropped connection or a lock
    timeout may pass, and the runner retries it; anything else fails the job."""
    try:
        yield
    except (OperationalError, DisconnectionError) as error:
        raise TransientTargetError(f"{label}: {_described(error)}") from None
    except StatementError as error:
        raise SqlTargetError(f"{label}: {_described(error)}") from None


def _described(error: StatementError | DisconnectionError) -> str:
    """The driver's error by type and code (SQLSTATE, or SQLite's result code)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    code = getattr(cause, "sqlstate", None) or getattr(cause, "sqlite_errorname", None)
    return f"{type(cause).__name__} ({code})" if code else type(cause).__name__

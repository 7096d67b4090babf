"""How the command line counts things, and writes times, in its sentences."""

from datetime import UTC, datetime


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 key``, ``0 keys``, ``2 data keys``."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def iso(ms: int) -> str:
    """Epoch milliseconds as UTC ISO 8601, to the second."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")

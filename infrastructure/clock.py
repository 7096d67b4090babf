"""The wall clock: the time the service runs by (tests inject their own)."""

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

"""When a new deletion job starts."""

from datetime import datetime, time, timedelta


def deletion_start(now: datetime, delay: timedelta | None) -> datetime:
    """The next UTC midnight, as OpenReplay does, unless the operator set a delay."""
    if delay is not None:
        return now + delay
    tomorrow = now.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=now.tzinfo)

"""Times as the API and the read model write them: milliseconds since the epoch."""

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


def moment_of(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def moment_ms(text: str) -> int | None:
    """Epoch milliseconds, or an ISO 8601 time (UTC when it names no zone); None if
    the text is neither. The API's ``?at=`` and the CLI's ``--at`` both read it."""
    if text.isascii() and text.isdigit():
        return int(text) if len(text) <= 18 else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

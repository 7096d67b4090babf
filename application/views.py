"""What the use cases return: a job as clients see it."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


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


DUE_BY = (
    "The response deadline, in epoch milliseconds: the request must be answered (the job "
    "completed) by then. One month after the request unless the operator set a shorter "
    "one; an operator may extend it, with a reason, up to three months after the request "
    "(GDPR Art. 12(3))."
)


class JobView(msgspec.Struct, frozen=True, rename="camel"):
    """A job in OpenReplay's shape: camelCase on the wire, times in epoch milliseconds.
    ``dueBy`` is jobtrail's addition (OpenReplay's clients ignore a field they do not
    know)."""

    job_id: int
    description: str
    status: str
    project_id: int
    action: str
    reference_id: str
    created_at: int
    updated_at: int
    start_at: int
    errors: str | None
    due_by: Annotated[int, msgspec.Meta(description=DUE_BY)]

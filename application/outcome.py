"""What a command on jobs answers, and how it is retried when another writer won.

Optimistic concurrency decides between racing commands: the loser's append
conflicts on the aggregate's next version, and the command is retried against
the state that won (a bounded number of times).
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from eventsourcing.persistence import RecordConflictError

from application.errors import ConcurrencyConflict
from application.job_records import JobView

T = TypeVar("T")
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Outcome:
    job: JobView
    position: int | None
    """How far the read model must reach to include the answer: where the command's
    last event sits in the log, or the log's head when an existing job is returned;
    None when there is nothing to wait for."""
    attempt: int = 0
    """The job's attempt after the command: a worker that started or took over the
    job holds this attempt, and names it in every later command (the fence)."""


def pause_before(attempt: int) -> float:
    """Seconds to wait before trying again after ``attempt`` conflicts: random, so
    racing writers part, and doubling."""
    return random.uniform(0, 0.002 * 2**attempt)


KEPT_CHANGING = "The job kept changing; try again."


def retry_on_conflict(command: Callable[[], T]) -> T:
    for attempt in range(MAX_ATTEMPTS):
        try:
            return command()
        except RecordConflictError:
            time.sleep(pause_before(attempt))
    raise ConcurrencyConflict(KEPT_CHANGING)

"""Group commit: concurrent callers' requests decided together, in one transaction
(the port application.ports.Together, for the scheduling use case).

No thread of its own: the first caller to arrive leads, takes every request
queued so far (its own included), processes them as one batch and hands the
lead to a caller still waiting. Alone, a caller just runs its request; under
load, many requests share one append, one fsync and one projection step.
"""

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


class _Pending(Generic[Request, Result]):
    __slots__ = ("error", "finished", "lead", "request", "result", "wake")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.wake = threading.Event()
        self.finished = False
        self.lead = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Request, Result]):
    def __init__(
        self,
        process: Callable[[Sequence[Request]], Sequence[Result | BaseException]],
        max_batch: int = 256,
    ) -> None:
        self._process = process
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[_Pending[Request, Result]] = deque()
        self._leading = False

    def submit(self, request: Request) -> Result:
        pending: _Pending[Request, Result] = _Pending(request)
        with self._lock:
            self._queue.append(pending)
            if not self._leading:
                self._leading = pending.lead = True
                pending.wake.set()
        while True:
            pending.wake.wait()
            pending.wake.clear()
            if pending.finished:
                break
            if pending.lead:
                self._lead_once()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _lead_once(self) -> None:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
        try:
            outcomes = list(self._process([p.request for p in batch]))
        except BaseException as error:  # the batch failed as a whole: so does each request
            outcomes = [error] * len(batch)
        with self._lock:
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    pending.error = outcome
                else:
                    pending.result = outcome
                pending.finished = True
                pending.lead = False
                pending.wake.set()
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.set()
            else:
                self._leading = False


def group_commit(
    decide: Callable[[Sequence[Request]], Sequence[Result | Exception]],
) -> Callable[[Request], Result]:
    return GroupCommit(decide).submit

"""One worker's attempt at one job: the lease it holds, and what it deleted but has
not recorded yet."""

import time
from datetime import datetime

from application.job_records import DueJob
from application.leases import LeaseKeeper


class LeaseLost(Exception):
    """This attempt can no longer prove it owns the job: it must delete nothing more."""


class Receipt:
    """Deletions done but not yet recorded in the log."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = time.monotonic()
        self.pending: dict[str, int] = {}

    def add(self, deleted: dict[str, int]) -> None:
        for target, count in deleted.items():
            self.pending[target] = self.pending.get(target, 0) + count

    def due(self) -> bool:
        return time.monotonic() - self._last >= self._interval

    def clear(self) -> None:
        self.pending = {}
        self._last = time.monotonic()


class Attempt:
    """One worker's attempt at one job: what it holds and what it has not yet recorded."""

    def __init__(self, due: DueJob, number: int, receipt: Receipt) -> None:
        self.due = due
        self.number = number
        self.receipt = receipt
        self.keeper: LeaseKeeper | None = None
        self.remaining: dict[str, int] | None = None

    def require_lease(self) -> None:
        assert self.keeper is not None
        if self.keeper.lost:
            raise LeaseLost(f"job {self.due.job_id} was taken over")
        self.keeper.renew_soon()
        if not self.keeper.holds():
            raise LeaseLost(f"job {self.due.job_id}: the lease could not be renewed in time")

    def keeper_confirms(self, until: datetime) -> None:
        if self.keeper is not None:
            self.keeper.confirm(until)

"""One worker's attempt at one job: the lease it holds, and what it deleted but has
not recorded yet."""

import time
from datetime import datetime

from application.job_records import DueJob
from application.leases import LeaseKeeper
from domain.lifecycle import add_deletions


class LeaseLost(Exception):
    """This attempt can no longer prove it owns the job: it must delete nothing more."""


class Receipt:
    """Deletions done but not yet recorded in the log."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = time.monotonic()
        self.pending: dict[str, int] = {}
        self.number = 1
        """The record ``pending`` is sent as, the same until it is recorded: sent
        again (its commit's answer lost), the log does not count it twice."""
        self.after_the_lease: dict[str, int] = {}
        """The part of ``pending`` that batches ending after the lease ran out
        reported: exact while the job is still this attempt's, unconfirmed once
        another worker took it over (``LateBatchDeleted``)."""

    def add(self, deleted: dict[str, int], within_the_lease: bool = True) -> None:
        add_deletions(self.pending, deleted)
        if not within_the_lease:
            add_deletions(self.after_the_lease, deleted)

    def confirmed(self) -> dict[str, int]:
        """What is pending, less what batches after the lease reported."""
        return {
            target: count - self.after_the_lease.get(target, 0)
            for target, count in self.pending.items()
        }

    def due(self) -> bool:
        return time.monotonic() - self._last >= self._interval

    def clear(self) -> None:
        self.pending = {}
        self.after_the_lease = {}
        self.number += 1
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

    def count(self, deleted: dict[str, int], exactly: bool) -> None:
        """A batch's deletions, as it ends: within the lease, or after it ran out (a
        stall), when another worker may have taken the job over meanwhile and deleted
        the same items. Counts of a target that ``counts_exactly`` are its own all the
        same."""
        within = exactly or self.keeper is None or self.keeper.holds()
        self.receipt.add(deleted, within_the_lease=within)

    def keeper_confirms(self, until: datetime) -> None:
        if self.keeper is not None:
            self.keeper.confirm(until)

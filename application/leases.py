"""A running job's heartbeat: the lease is renewed on its own, whatever the batches do.

A batch may take longer than the lease (a slow table, a locked row, a paused
disk); the lease must not lapse under a worker that is alive. The keeper renews
it from its own thread well before it ends, and tells the runner at once when the
job was lost (taken over after a stall) so that it deletes nothing more.
"""

import logging
import threading
from datetime import datetime, timedelta
from types import TracebackType

from application.commands import JobCommands
from application.ports import Clock
from domain.errors import DomainError, NotTheOwner

log = logging.getLogger("jobtrail.runner")

# Renew once less than this share of the lease is left: two renewals may fail in a
# row (a database blip) before the lease can lapse.
RENEW_BELOW = 2 / 3
LONGEST_TICK = 0.1
# No batch starts in the last sixth of a confirmed lease: another worker's clock
# may run a little ahead of this one's.
CLOCK_MARGIN = 1 / 6


class LeaseKeeper:
    def __init__(
        self,
        commands: JobCommands,
        job_id: int,
        actor: str,
        attempt: int,
        lease: timedelta,
        clock: Clock,
        until: datetime,
    ) -> None:
        self._commands = commands
        self._job_id = job_id
        self._actor = actor
        self._attempt = attempt
        self._lease = lease
        self._clock = clock
        self._until = until
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def lost(self) -> bool:
        """The job was taken over by another worker: this attempt is over."""
        return self._lost.is_set()

    def holds(self) -> bool:
        """Whether this attempt may start another batch: not taken over, and its
        confirmed lease has not run out (renewals may have failed meanwhile)."""
        with self._guard:
            until = self._until
        return not self.lost and self._clock.now() + self._lease * CLOCK_MARGIN < until

    def confirm(self, until: datetime) -> None:
        """The log accepted an event of this attempt that extends its lease."""
        with self._guard:
            self._until = max(self._until, until)

    def renew_if_due(self) -> None:
        now = self._clock.now()
        with self._guard:
            left = self._until - now
        if left > self._lease * RENEW_BELOW:
            return
        until = now + self._lease
        try:
            self._commands.renew_lease(self._job_id, self._actor, self._attempt, until)
        except NotTheOwner:
            log.warning("job %s: lease lost by %s", self._job_id, self._actor)
            self._lost.set()
            return
        except DomainError:
            return  # cancelled or finished: the runner sees it between batches
        self.confirm(until)

    def renew_soon(self) -> None:
        """Renews now if it is due. A failure (the database away, a write that kept
        conflicting) is not the job's failure: the lease simply stays as confirmed,
        and ``holds`` says when it no longer covers another batch."""
        try:
            self.renew_if_due()
        except Exception as error:
            log.warning(
                "job %s: lease renewal failed (%s: %s)", self._job_id, type(error).__name__, error
            )

    def _beat(self) -> None:
        tick = min(self._lease.total_seconds() / 6, LONGEST_TICK)
        while not self._stop.wait(tick):
            self.renew_soon()

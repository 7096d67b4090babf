"""Keeps a projection following the log in the background.

Many processes run a follower; only the one holding the projection's leadership
applies events, and another takes over when it dies. The leader wakes when new
events are appended (LISTEN/NOTIFY on PostgreSQL) or after a short poll.
"""

import logging
import threading
import time

from application.ports import Leadership, ProjectionStore
from application.projector import Projector

log = logging.getLogger("jobtrail.projection")
LEADERSHIP_RETRY_SECONDS = 1.0
GATHER_SECONDS = 0.05
"""How long the leader lets appends gather after it is woken, before it folds them:
under load every batch of scheduling wakes it, and folding each alone would cost a
read of the position and of the log per batch, mostly to find the position moved
already (scheduling writes its own rows). A request that waits for its write does
not wait for this: it moves the projector itself (Projector.wait_for)."""


class ProjectionFollower:
    def __init__(
        self,
        projector: Projector,
        leadership: Leadership,
        store: ProjectionStore,
        interval: float,
    ) -> None:
        self._projector = projector
        self._leadership = leadership
        self._store = store
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{projector.name}", daemon=True
        )
        self.last_error: str | None = None

    @property
    def is_leader(self) -> bool:
        return bool(getattr(self._leadership, "held", False))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._leadership.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._leadership.try_acquire():
                    self._stop.wait(LEADERSHIP_RETRY_SECONDS)
                    continue
                self._follow_once()
                self._wait_for_events()
            except Exception as error:
                # The database went away or the leadership's session broke: let go,
                # and compete again once it is back.
                log.warning(
                    "projection %s lost its footing (%s: %s); retrying",
                    self._projector.name,
                    type(error).__name__,
                    str(error).strip().splitlines()[0] if str(error).strip() else "",
                )
                self._leadership.release()
                self._stop.wait(LEADERSHIP_RETRY_SECONDS)

    def _wait_for_events(self) -> None:
        # In short slices, so that stopping never waits for a whole poll interval.
        deadline = time.monotonic() + self._interval
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._leadership.wait_for_events(min(0.5, remaining)):
                self._stop.wait(GATHER_SECONDS)
                return

    def _follow_once(self) -> None:
        try:
            self._projector.catch_up()
        except Exception as error:
            # Never skip an event: stay stopped at it, say why, and try again later.
            message = f"{type(error).__name__}: {error}"
            if message != self.last_error:
                log.error("projection %s stopped: %s", self._projector.name, message)
                self._store.mark(self._projector.name, "stopped", message)
                self.last_error = message
            return
        if self.last_error is not None:
            self._store.mark(self._projector.name, "live", None)
            log.info("projection %s is live again", self._projector.name)
            self.last_error = None

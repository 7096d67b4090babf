"""Moving a projection forward through the log, batch by batch, exactly once."""

import threading
import time

from application.errors import ProjectionStalled
from application.event_log import JobLog
from application.ports import ProjectionStore
from application.projection import JobsProjection


class Projector:
    """Moves one projection forward through the log; safe to run in many processes.

    A ``sole_applier`` (a rebuild, which holds its projection's exclusive role)
    starts each batch where it left the last one instead of reading the position
    again; the position locked in the batch's transaction still decides."""

    def __init__(
        self,
        log: JobLog,
        store: ProjectionStore,
        projection: JobsProjection,
        batch_size: int = 1000,
        name: str | None = None,
        sole_applier: bool = False,
    ) -> None:
        self._log = log
        self._store = store
        self._projection = projection
        self._batch_size = batch_size
        self._name = name or projection.name
        self._sole_applier = sole_applier
        self._left_at: int | None = None
        self._reached = 0
        """The furthest position this process has seen the projection reach."""
        self._applying = threading.Lock()
        """The threads of one process that apply (the background follower, and requests
        waiting for their own writes) take turns: one applies what is there, and the
        others find it applied, instead of folding the same events to throw them away."""

    @property
    def name(self) -> str:
        """The position this projector keeps (a rebuild keeps its own)."""
        return self._name

    def position(self) -> int:
        return self._store.position(self.name)

    def step(self) -> int:
        """Applies the next batch; returns how many events it applied."""
        with self._applying:
            return self._advance()[0]

    def _advance(self) -> tuple[int, int]:
        """Applies the next batch: (events applied, position reached)."""
        while True:
            position = self._left_at
            if position is None:
                position = self._store.position(self.name)
            # Read, decode and fold the batch before taking the position's lock:
            # holding a database write lock while waiting on the event store's
            # connections can deadlock (SQLite has one writer), and the lock is
            # held only while rows are written. If another applier moved first,
            # the fold is thrown away and the batch read again.
            page = self._log.page(after=position, limit=self._batch_size)
            if not page:
                self._reached = max(self._reached, position)
                return 0, position
            folded = self._projection.fold(page, self._store.rows)
            with self._store.transaction(self.name) as tx:
                if tx.position != position:
                    self._left_at = None
                    continue
                self._projection.write(folded, tx)
                reached = tx.advance(page.last_position)
            if self._sole_applier:
                self._left_at = reached
            self._reached = max(self._reached, reached)
            return len(page), reached

    def catch_up(self) -> int:
        applied = 0
        while count := self.step():
            applied += count
        return applied

    def wait_for(self, position: int, timeout: float) -> None:
        """Returns once the read model includes the event at ``position``."""
        deadline = time.monotonic() + timeout
        while self._reached < position:
            left = deadline - time.monotonic()
            if left < 0 or not self._applying.acquire(timeout=left):
                raise ProjectionStalled(
                    f"The read model has not reached position {position} in {timeout} s."
                )
            try:
                applied = self._advance()[0] if self._reached < position else 0
            finally:
                self._applying.release()
            if not applied and self._reached < position:
                time.sleep(0.001)

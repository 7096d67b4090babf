"""Keeps a projection following the log in the background of a process."""

import logging
import threading

from application.projection import Projector

log = logging.getLogger("jobtrail.projection")


class ProjectionFollower:
    def __init__(self, projector: Projector, interval: float) -> None:
        self._projector = projector
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{projector.name}", daemon=True
        )
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._projector.catch_up()
                self.last_error = None
            except Exception as error:
                # Never skip an event: stay stopped at it, say why, and try again later.
                if str(error) != self.last_error:
                    log.exception("projection %s stopped", self._projector.name)
                self.last_error = str(error)
            self._stop.wait(self._interval)

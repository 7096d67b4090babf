"""Folding the log afresh with the projection's own code, to check the live read model."""

from collections.abc import Sequence

from application.event_log import JobLog
from application.ports import JobChange, JobRow
from application.projection import JobsProjection, changed
from application.views import JobView


class _InMemoryTransaction:
    def __init__(self) -> None:
        self.rows: dict[str, JobView] = {}
        self._position = 0

    @property
    def position(self) -> int:
        return self._position

    def insert_jobs(self, rows: Sequence[JobRow]) -> None:
        for row in rows:
            self.rows[row.aggregate_id] = row.view()

    def update_jobs(self, changes: Sequence[JobChange]) -> None:
        for change in changes:
            self.rows[change.aggregate_id] = changed(self.rows[change.aggregate_id], change)

    def advance(self, position: int) -> None:
        self._position = position


def fold_projection(log: JobLog, up_to: int, batch: int = 5000) -> dict[int, JobView]:
    """The jobs the projection would hold at position ``up_to``."""
    projection, tx = JobsProjection(), _InMemoryTransaction()
    while tx.position < up_to:
        page = [e for e in log.read(tx.position, batch) if e.position <= up_to]
        if not page:
            break
        projection.apply(page, tx)
        tx.advance(page[-1].position)
    return {view.job_id: view for view in tx.rows.values()}

"""Folding the log afresh with the projection's own code, to check the live read model."""

from collections.abc import Collection, Mapping, Sequence

from application.errors import DamagedRecord
from application.event_log import JobLog
from application.job_records import Damage, JobRow, changed
from application.projection import JobsProjection


class _InMemoryTransaction:
    def __init__(self) -> None:
        self.table: dict[str, JobRow] = {}
        self.damage: list[Damage] = []
        self._position = 0

    @property
    def position(self) -> int:
        return self._position

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        return {a: self.table[a] for a in aggregate_ids if a in self.table}

    def insert_jobs(self, rows: Sequence[JobRow]) -> None:
        for row in rows:
            self.table[row.aggregate_id] = row

    def update_jobs(self, changes: Sequence[JobRow]) -> None:
        for after in changes:
            self.table[after.aggregate_id] = changed(self.table[after.aggregate_id], after)

    def record_damage(self, damage: Sequence[Damage]) -> None:
        self.damage.extend(damage)

    def advance(self, position: int) -> int:
        self._position = position
        return position


def fold_projection(log: JobLog, up_to: int, batch: int = 5000) -> dict[int, JobRow]:
    """The jobs the projection would hold at position ``up_to``; DamagedRecord names
    the first event it could not decode."""
    projection, tx = JobsProjection(), _InMemoryTransaction()
    for page in log.pages(batch=batch, up_to=up_to):
        projection.apply(page, tx)
        tx.advance(page.last_position)
    if tx.damage:
        first = tx.damage[0]
        raise DamagedRecord(first.aggregate_id, first.detail, first.position)
    return {row.job_id: row for row in tx.table.values()}

"""Public job ids: positive, unique across the service, increasing."""

from sqlalchemy import delete, text

from infrastructure.database import Database
from infrastructure.tables import job_id_allocations


class SqlJobIdAllocator:
    def __init__(self, database: Database) -> None:
        self._db = database

    def next_job_ids(self, count: int) -> list[int]:
        if count == 0:
            return []
        if self._db.backend == "postgresql":
            # A sequence is outside transactions: nothing to commit, nothing to lock.
            query = text("SELECT nextval('job_ids') FROM generate_series(1, :n)")
            with self._db.reader() as conn:
                return sorted(int(i) for i in conn.execute(query, {"n": count}).scalars())
        with self._db.writer(durable=False) as conn:
            ids = [
                int(conn.execute(job_id_allocations.insert()).inserted_primary_key[0])  # type: ignore[index]
                for _ in range(count)
            ]
            # Only the high-water mark matters, and AUTOINCREMENT keeps it.
            conn.execute(delete(job_id_allocations).where(job_id_allocations.c.id < ids[-1]))
            return ids

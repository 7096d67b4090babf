"""Public job ids: positive, unique across the service, increasing."""

from sqlalchemy import delete, text

from infrastructure.database import Database
from infrastructure.tables import job_id_allocations


class SqlJobIdAllocator:
    def __init__(self, database: Database) -> None:
        self._db = database

    def next_job_id(self) -> int:
        with self._db.writer() as conn:
            if self._db.backend == "postgresql":
                return int(conn.execute(text("SELECT nextval('job_ids')")).scalar_one())
            inserted = conn.execute(job_id_allocations.insert()).inserted_primary_key
            assert inserted is not None
            new_id = inserted[0]
            # Only the high-water mark matters, and AUTOINCREMENT keeps it.
            conn.execute(delete(job_id_allocations).where(job_id_allocations.c.id < new_id))
            return int(new_id)

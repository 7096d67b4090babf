"""Who is asking and for which project, remembered for 10 s as jobtrail remembers it
(infrastructure/remembered_credentials.py): otherwise every request would cost two more
queries, and the peer would be tuned down."""

import hashlib
import time
from typing import Any

from psycopg_pool import AsyncConnectionPool

TTL_SECONDS = 10.0


class Unauthorized(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Lookups:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._memo: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    async def project_id(self, authorization: str, project_key: str) -> int:
        """The project's id, if the key is valid and the project is its organization's."""
        key = authorization.strip()
        if key[:7].lower() == "bearer ":
            key = key[7:].strip()
        digest = hashlib.sha256(key.encode()).hexdigest()
        org = await self._one("SELECT org_id FROM api_keys WHERE key_sha256 = %s", digest)
        if org is None:
            raise Unauthorized(401, "Invalid API Key")
        project = await self._one(
            "SELECT id, org_id FROM projects WHERE project_key = %s", project_key
        )
        if project is None or project["org_id"] != org["org_id"]:
            raise Unauthorized(404, "Project not found.")
        return int(project["id"])

    async def _one(self, sql: str, value: str) -> dict[str, Any] | None:
        """The row, from memory if it was read less than TTL_SECONDS ago (misses too)."""
        now = time.monotonic()
        found = self._memo.get((sql, value))
        if found is not None and found[0] > now:
            return found[1]
        async with self._pool.connection() as conn:
            row: dict[str, Any] | None = await (await conn.execute(sql, (value,))).fetchone()
        if len(self._memo) > 10_000:
            self._memo.clear()  # bounded, as jobtrail's: random keys cannot grow it forever
        self._memo[(sql, value)] = (now + TTL_SECONDS, row)
        return row

"""Damage done to one stored event behind jobtrail's back, in each way a row can be
damaged: what every reader of the log must contain (ADR 17)."""

import base64
import json
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text

from api.composition import Services


@dataclass(frozen=True)
class Damage:
    kind: str
    version: int
    """Which event of the aggregate is damaged (1: its first, the job's Scheduled)."""

    def __str__(self) -> str:
        return f"{self.kind} at event {self.version}"


NULL_TOPIC = "null topic"
UNKNOWN_TOPIC = "unknown topic"
BASE_CLASS_TOPIC = "topic of a base class"
DELETED_ROW = "deleted row"
BROKEN_SEAL = "broken seal"
NULL_STATE = "null state"

DAMAGES = [
    Damage(NULL_TOPIC, 2),
    Damage(UNKNOWN_TOPIC, 2),
    Damage(BASE_CLASS_TOPIC, 2),  # it decodes; the projection could not apply it
    Damage(DELETED_ROW, 2),  # a gap in the job's versions
    Damage(BROKEN_SEAL, 1),  # only the Scheduled event holds sealed personal data
    Damage(NULL_STATE, 2),
    Damage(NULL_TOPIC, 1),
    Damage(DELETED_ROW, 1),
]


def damage(services: Services, aggregate_id: UUID, done: Damage) -> None:
    """Damages event ``done.version`` of the aggregate in the stored events table."""
    table = services.database.url.events_table
    sqlite = services.database.backend == "sqlite"
    aggregate = ":a" if sqlite else "CAST(:a AS uuid)"
    where = f"originator_id = {aggregate} AND originator_version = :v"
    row = {"a": aggregate_id.hex if sqlite else str(aggregate_id), "v": done.version}
    with services.database.writer() as conn:
        if done.kind == NULL_TOPIC:
            conn.execute(text(f"UPDATE {table} SET topic = NULL WHERE {where}"), row)
        elif done.kind == UNKNOWN_TOPIC:
            renamed = "domain.job:Job.RenamedSinceThisVersion"
            conn.execute(
                text(f"UPDATE {table} SET topic = :t WHERE {where}"), {**row, "t": renamed}
            )
        elif done.kind == BASE_CLASS_TOPIC:
            base = "domain.job:Job.Event"  # no aggregate triggers it
            conn.execute(text(f"UPDATE {table} SET topic = :t WHERE {where}"), {**row, "t": base})
        elif done.kind == DELETED_ROW:
            conn.execute(text(f"DELETE FROM {table} WHERE {where}"), row)
        elif done.kind == NULL_STATE:
            conn.execute(text(f"UPDATE {table} SET state = NULL WHERE {where}"), row)
        elif done.kind == BROKEN_SEAL:
            stored = conn.execute(
                text(f"SELECT state FROM {table} WHERE {where}"), row
            ).scalar_one()
            state = json.loads(bytes(stored))
            sealed = bytearray(base64.b64decode(state["sealed"]))
            sealed[-1] ^= 0xFF  # the authentication tag no longer matches
            state["sealed"] = base64.b64encode(bytes(sealed)).decode()
            edited = json.dumps(state).encode()
            conn.execute(text(f"UPDATE {table} SET state = :s WHERE {where}"), {**row, "s": edited})
        else:
            raise ValueError(done.kind)

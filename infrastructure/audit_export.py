"""The log as JSON lines for auditors: each event with its position and chain link.

A line carries the exact stored ``state`` beside the decoded ``data``, so an
auditor's own tool can recompute every link (see ``infrastructure.chain``).
"""

from collections.abc import Iterator
from typing import Any

import msgspec
from sqlalchemy import select

from application.audit import event_record
from application.event_log import JobLog, Undecodable, decoded
from domain.job import Job
from infrastructure.chain import chain_in_order
from infrastructure.database import Database
from infrastructure.tables import jobs

_encode = msgspec.json.Encoder().encode


def _job_ids(database: Database, project_id: int | None) -> dict[str, int]:
    query = select(jobs.c.aggregate_id, jobs.c.job_id)
    if project_id is not None:
        query = query.where(jobs.c.project_id == project_id)
    with database.reader() as conn:
        return {aggregate_id: job_id for aggregate_id, job_id in conn.execute(query)}


def export_lines(
    log: JobLog,
    database: Database,
    project_id: int | None = None,
    since_ms: int | None = None,
    batch: int = 5000,
) -> Iterator[bytes]:
    """One JSON line per event, in log order."""
    job_ids = _job_ids(database, project_id)
    links = chain_in_order(database, batch)
    link = next(links, None)
    for notification in log.stored(batch=batch, to_decode=True):
        while link is not None and link[0] < notification.id:
            link = next(links, None)
        event: Any = decoded(log.mapper.to_domain_event, notification)
        if isinstance(event, Undecodable):
            raise event.damage(notification.id)
        aggregate_id = str(notification.originator_id)
        if isinstance(event, Job.Scheduled) and (project_id in (None, event.project_id)):
            job_ids[aggregate_id] = event.job_id
        if project_id is not None and aggregate_id not in job_ids:
            continue
        record = event_record(event)
        if since_ms is not None and record.at < since_ms:
            continue
        matched = link is not None and link[0] == notification.id
        line: dict[str, Any] = {
            "position": notification.id,
            "hash": link[1] if matched and link else None,
            "prevHash": link[2] if matched and link else None,
            "aggregateId": aggregate_id,
            "aggregateVersion": notification.originator_version,
            "jobId": job_ids.get(aggregate_id),
            "topic": notification.topic,
            "type": record.type,
            "at": record.at,
            "actor": record.actor,
            "data": record.data,
            "state": bytes(notification.state).decode("utf-8"),
        }
        yield _encode(line) + b"\n"

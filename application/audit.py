"""A job's history from the event log: every event, and the job as it was at any point."""

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.epoch import epoch_ms
from application.errors import DamagedRecord, JobNotFound, NoSuchVersion, NotYetCreated
from application.event_log import JobLog, Undecodable, fold_in_sequence, missing_event
from application.job_records import COLUMNS, JobRow, JobView, job_row, job_view
from domain.job import Job, job_aggregate_id

_ENVELOPE = {"originator_id", "originator_version", "originator_topic", "timestamp", "actor"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain(value: Any) -> Any:
    """An event's field as the API and the CLI show it: times in epoch ms, records
    (a RemainsSearched event's places) as objects with camelCase keys."""
    if isinstance(value, datetime):
        return epoch_ms(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@dataclass(frozen=True, slots=True)
class EventRecord:
    type: str
    version: int
    at: int
    actor: str
    data: dict[str, Any]


def event_record(event: Any) -> EventRecord:
    fields = vars(event)
    return EventRecord(
        type=type(event).__name__,
        version=event.originator_version,
        at=epoch_ms(event.timestamp),
        actor=fields.get("actor", ""),
        data={_camel(k): plain(v) for k, v in fields.items() if k not in _ENVELOPE},
    )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event: EventRecord
    status_after: str


@dataclass(frozen=True, slots=True)
class DamagedEntry:
    """An event of a job's history that cannot be read, or is missing, in its place."""

    version: int
    detail: str


UNKNOWN_STATUS = "?"
"""The status after an event that follows a damaged one: nobody can tell it."""


class JobHistory:
    def __init__(self, log: JobLog) -> None:
        self._log = log

    def events(self, project_id: int | None, job_id: int) -> list[EventRecord]:
        return [event_record(event) for event in self._job_events(project_id, job_id)]

    def timeline(self, project_id: int | None, job_id: int) -> list[TimelineEntry]:
        entries = []
        job: Job | None = None
        for event in self._job_events(project_id, job_id):
            job = event.mutate(job)
            assert job is not None
            entries.append(TimelineEntry(event_record(event), str(job.status)))
        return entries

    def readable_timeline(self, job_id: int) -> list[TimelineEntry | DamagedEntry]:
        """The job's timeline with its damage in place: every event that can be read
        is shown, each one that cannot (or is missing) is a DamagedEntry, and the
        status after anything past the first damage is unknown (for operators; the
        API answers a damaged job with 409 instead)."""
        if job_id <= 0:
            raise JobNotFound(job_id)
        events = self._log.readable_history_of(job_aggregate_id(job_id))
        if not events or not isinstance(events[0], Job.Scheduled | Undecodable):
            raise JobNotFound(job_id)
        entries: list[TimelineEntry | DamagedEntry] = []
        job: Job | None = None
        broken = False
        for event in events:
            if isinstance(event, Undecodable):
                entries.append(DamagedEntry(event.originator_version, event.detail))
                broken = True
                continue
            if not broken:
                job = event.mutate(job)
            status = UNKNOWN_STATUS if broken or job is None else str(job.status)
            entries.append(TimelineEntry(event_record(event), status))
        return entries

    def receipt(self, project_id: int | None, job_id: int) -> dict[str, int]:
        """What the job deleted so far, per target, as the aggregate counts it."""
        return self.receipt_in_full(project_id, job_id)[0]

    def receipt_in_full(
        self, project_id: int | None, job_id: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The receipt, and what workers reported deleted after their lease had run out
        and the job was taken over: at most that more (``LateBatchDeleted``)."""
        job = fold_in_sequence(None, self._job_events(project_id, job_id))
        return dict(job.deleted), dict(job.unconfirmed)

    def as_of(
        self, project_id: int | None, job_id: int, at: int | None = None, version: int | None = None
    ) -> JobView:
        """The job as it was at ``at`` (epoch ms) or after its event ``version``."""
        if at is None and version is not None:
            return job_view(self._job_at_version(project_id, job_id, version))
        events = self._job_events(project_id, job_id)
        if version is not None and version > len(events):
            raise NoSuchVersion(job_id, version, len(events))
        if at is not None:
            events = [e for e in events if epoch_ms(e.timestamp) <= at]
            if not events:
                raise NotYetCreated(job_id)
        if version is not None:
            events = events[:version]
        return job_view(fold_in_sequence(None, events))

    def _job_at_version(self, project_id: int | None, job_id: int, version: int) -> Job:
        job = self._log.job(job_id, version=version)
        if job is None or (project_id is not None and job.project_id != project_id):
            raise JobNotFound(job_id)
        if job.version < version:
            raise NoSuchVersion(job_id, version, job.version)
        return job

    def _job_events(self, project_id: int | None, job_id: int) -> list[Any]:
        if job_id <= 0:
            raise JobNotFound(job_id)
        events = self._log.history_of(job_aggregate_id(job_id))
        if not events or not isinstance(events[0], Job.Scheduled):
            raise JobNotFound(job_id)
        if project_id is not None and events[0].project_id != project_id:
            raise JobNotFound(job_id)
        return events


@dataclass(frozen=True, slots=True)
class Mismatch:
    job_id: int
    field: str
    in_log: object
    in_read_model: object

    def __str__(self) -> str:
        return (
            f"job {self.job_id}: {self.field} is {self.in_read_model!r} in the read model, "
            f"{self.in_log!r} in the log"
        )


def refold_all(log: JobLog, batch: int = 5000) -> dict[int, JobRow]:
    """Every job, folded afresh from the whole log by the domain's own rules."""
    jobs: dict[Any, Job] = {}
    for logged in log.entries(batch=batch):
        event = logged.event
        if isinstance(event, Undecodable):
            raise event.damage(logged.position)
        if isinstance(event, Job.Scheduled):
            jobs[event.originator_id] = fold_in_sequence(None, [event])
        elif isinstance(event, Job.Event):
            job = jobs.get(event.originator_id)
            expected = 1 if job is None else job.version + 1
            if event.originator_version != expected:
                detail = missing_event(expected, event.originator_version)
                raise DamagedRecord(event.originator_id, detail, logged.position)
            event.mutate(job)
    return {job.job_id: job_row(job) for job in jobs.values()}


def compare(expected: dict[int, JobRow], actual: Iterable[JobRow]) -> Iterator[Mismatch]:
    """Every difference between jobs folded from the log and the read model's rows, on
    every column the read model keeps (the lease and the version included)."""
    seen: set[int] = set()
    for row in actual:
        seen.add(row.job_id)
        folded = expected.get(row.job_id)
        if folded is None:
            yield Mismatch(row.job_id, "existence", "absent", "present")
            continue
        for field in COLUMNS:
            if getattr(folded, field) != getattr(row, field):
                yield Mismatch(row.job_id, field, getattr(folded, field), getattr(row, field))
    for job_id in sorted(set(expected) - seen):
        yield Mismatch(job_id, "existence", "present", "absent")

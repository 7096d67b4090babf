"""In-memory adapters for the use cases' fast tests: the log on eventsourcing's POPO
recorders, personal data sealed with keys in a dict, job ids from a counter, and the
jobs read model with its projection store in dicts.

Each behaves as its SQL adapter does where the use cases can tell
(tests/integration/test_read_model_contract.py holds the read model to that); none
is durable, and none is shared beyond one process.
"""

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper

from application.epoch import moment_of
from application.errors import DamagedRecord
from application.event_log import JobLog
from application.job_records import VIEW_COLUMNS, Damage, DueJob, JobRow, JobView, changed, view_of
from application.ports import ProjectionRecord, ProjectionTransaction
from application.projection import JobsProjection
from domain.deadline import awaits_answer
from domain.lifecycle import JobStatus, is_due
from domain.request import FORGOTTEN
from infrastructure.data_key_table import KeyRef
from infrastructure.mapper import MsgspecMapper
from infrastructure.personal_data import SealBroken

_NONCE_BYTES = 12


class InMemoryVault:
    """Subjects, data keys and sealing as infrastructure/personal_data.py has them,
    with the keys in a dict: a destroyed key forgets what it sealed."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)
        self._keys: dict[KeyRef, tuple[AESGCM, int]] = {}  # and when each was made (ms)
        self._lock = threading.Lock()

    def subject(self, project_id: int, user_id: str) -> str:
        message = f"{project_id}\x00{user_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def seal(self, ref: KeyRef, aad: bytes, plaintext: bytes) -> str:
        with self._lock:
            if ref not in self._keys:
                made = AESGCM(AESGCM.generate_key(256)), int(time.time() * 1000)
                self._keys[ref] = made
            key = self._keys[ref][0]
        nonce = os.urandom(_NONCE_BYTES)
        return (nonce + key.encrypt(nonce, plaintext, aad)).hex()

    def open(self, ref: KeyRef, aad: bytes, sealed: str) -> bytes | None:
        with self._lock:
            found = self._keys.get(ref)
        if found is None:
            return None  # destroyed: forgotten
        data = bytes.fromhex(sealed)
        try:
            return found[0].decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], aad)
        except InvalidTag as error:
            raise SealBroken("sealed personal data does not open with its key") from error

    def destroy(self, refs: Collection[KeyRef]) -> int:
        with self._lock:
            return sum(self._keys.pop(ref, None) is not None for ref in refs)

    def keys_created_before(self, cutoff_ms: int, limit: int) -> list[KeyRef]:
        with self._lock:
            made = sorted((created, ref) for ref, (_, created) in self._keys.items())
        return [ref for created, ref in made if created <= cutoff_ms][:limit]

    def scrub(self) -> None:
        """Nothing to scrub: a destroyed key leaves no copy in memory to find."""


class InMemoryJobLog(JobLog):
    """The log on eventsourcing's POPO recorders, with the service's own mapper."""

    def __init__(self, vault: InMemoryVault) -> None:
        self.vault = vault
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(vault=self.vault)

    def subject_of(self, project_id: int, user_id: str) -> str:
        return self.vault.subject(project_id, user_id)

    def may_hold_clear_ledgers(self) -> bool:
        return False  # it began sealed

    def aggregates_as_read(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any]:
        found: dict[UUID, Any] = {}
        for aggregate_id in aggregate_ids:
            try:
                found[aggregate_id] = self.aggregate_or_none(aggregate_id)
            except DamagedRecord as damage:
                found[aggregate_id] = damage
        return found


class InMemoryJobIds:
    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next_job_ids(self, count: int) -> list[int]:
        with self._lock:
            first, self._last = self._last + 1, self._last + count
            return list(range(first, self._last + 1))


@dataclass(frozen=True)
class _Tables:
    """The read model at one moment. A transaction's commit replaces it whole, so a
    reader holds a consistent moment without a lock."""

    jobs: Mapping[int, JobRow]
    """By job id."""
    damaged: Mapping[int, str]
    """The first damage of a job's row (by job id): why its record cannot be read."""
    damage: Mapping[int, Damage]
    """By log position."""
    projections: Mapping[str, ProjectionRecord]


class _Transaction:
    """A projection's batch, written to copies of the tables and committed whole."""

    def __init__(self, tables: _Tables, name: str) -> None:
        self._name = name
        self._jobs = dict(tables.jobs)
        self._damaged = dict(tables.damaged)
        self._damage = dict(tables.damage)
        self._projections = dict(tables.projections)

    @property
    def position(self) -> int:
        return self._projections[self._name].position

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        return _rows(self._jobs, aggregate_ids)

    def insert_jobs(self, rows: Sequence[JobRow]) -> None:
        for row in rows:
            if row.job_id in self._jobs:
                raise ValueError(f"job {row.job_id} is in the read model already")
            self._jobs[row.job_id] = row

    def update_jobs(self, changes: Sequence[JobRow]) -> None:
        known = _rows(self._jobs, [change.aggregate_id for change in changes])
        for change in changes:
            row = known.get(change.aggregate_id)
            if row is not None:  # as an UPDATE that finds no row: nothing
                self._jobs[row.job_id] = changed(row, change)

    def record_damage(self, damage: Sequence[Damage]) -> None:
        known = _rows(self._jobs, [d.aggregate_id for d in damage])
        for d in damage:
            self._damage.setdefault(d.position, d)  # a rebuild meets them again
            row = known.get(d.aggregate_id)
            if row is not None:
                self._damaged.setdefault(row.job_id, d.detail)  # the first says why

    def advance(self, position: int) -> int:
        # No writer here writes rows with its events: there is never a run to step over.
        self._projections[self._name] = replace(self._projections[self._name], position=position)
        return position

    def committed(self) -> _Tables:
        return _Tables(self._jobs, self._damaged, self._damage, self._projections)


def _rows(jobs: Mapping[int, JobRow], aggregate_ids: Iterable[str]) -> dict[str, JobRow]:
    wanted = set(aggregate_ids)
    return {row.aggregate_id: row for row in jobs.values() if row.aggregate_id in wanted}


def _view(row: JobRow) -> JobView:
    return view_of([getattr(row, column) for column in VIEW_COLUMNS])


_OWING = frozenset(status.value for status in JobStatus if awaits_answer(status))
_TERMINAL = frozenset(status.value for status in JobStatus if status.is_terminal)


class InMemoryJobs:
    """The jobs read model (application.ports.JobsReadModel) and the store its
    projection writes (ProjectionStore), in dicts: one transaction at a time."""

    def __init__(self) -> None:
        live = ProjectionRecord(JobsProjection.name, 0, "live", None)
        self._tables = _Tables({}, {}, {}, {live.name: live})
        self._writing = threading.Lock()

    # The projection's store

    @contextmanager
    def transaction(self, name: str) -> Iterator[ProjectionTransaction]:
        with self._writing:
            tx = _Transaction(self._tables, name)
            yield tx
            self._tables = tx.committed()  # not reached when the batch raised

    def position(self, name: str) -> int:
        return self._tables.projections[name].position

    def rows(self, aggregate_ids: Collection[str]) -> Mapping[str, JobRow]:
        return _rows(self._tables.jobs, aggregate_ids)

    def mark(self, name: str, state: str, error: str | None) -> None:
        with self._writing:
            tables = self._tables
            record = replace(tables.projections[name], state=state, error=error)
            self._tables = replace(tables, projections={**tables.projections, name: record})

    def damage(self) -> list[Damage]:
        return sorted(self._tables.damage.values(), key=lambda d: d.position)

    def records(self) -> list[ProjectionRecord]:
        return sorted(self._tables.projections.values(), key=lambda record: record.name)

    # The read model

    def get(self, project_id: int, job_id: int) -> JobView | None:
        tables = self._tables
        row = tables.jobs.get(job_id)
        if row is None or row.project_id != project_id:
            return None
        if job_id in tables.damaged:
            raise DamagedRecord(row.aggregate_id, tables.damaged[job_id])
        return _view(row)

    def page(self, project_id: int, status: str | None, limit: int, offset: int) -> list[JobView]:
        rows = [
            row
            for row in self._by_job_id(newest_first=True)
            if row.project_id == project_id and status in (None, row.status)
        ]
        return [_view(row) for row in rows[offset : offset + limit]]

    def every_job(self) -> Iterator[JobRow]:
        yield from self._by_job_id()

    def due(self, now_ms: int, limit: int) -> list[DueJob]:
        now = moment_of(now_ms)
        damaged = self._tables.damaged
        due = [row for row in self._by_job_id() if row.job_id not in damaged and _is_due(row, now)]
        due.sort(key=lambda row: (row.start_at, row.job_id))
        return [DueJob(row.job_id, row.project_id, row.reference_id) for row in due[:limit]]

    def owing_answers(self, project_id: int | None, due_by_ms: int, limit: int) -> list[JobView]:
        owing = [
            row
            for row in self._by_job_id()
            if row.status in _OWING
            and row.respond_by <= due_by_ms
            and project_id in (None, row.project_id)
        ]
        owing.sort(key=lambda row: (row.respond_by, row.job_id))
        return [_view(row) for row in owing[:limit]]

    def forgettable(self, ended_by_ms: int, after_job_id: int, limit: int) -> list[int]:
        return [
            row.job_id
            for row in self._by_job_id()
            if row.status in _TERMINAL
            and row.updated_at <= ended_by_ms
            and row.reference_id != FORGOTTEN
            and row.job_id > after_job_id
        ][:limit]

    def forget_in_unfinished_rebuild(self, job_ids: Collection[int]) -> None:
        pass  # nothing here rebuilds

    def _by_job_id(self, newest_first: bool = False) -> list[JobRow]:
        return sorted(self._tables.jobs.values(), key=lambda row: row.job_id, reverse=newest_first)


def _is_due(row: JobRow, now: datetime) -> bool:
    """The domain's rule (domain.lifecycle.is_due), as the SQL due query is built from it."""
    lease_until = None if row.lease_until is None else moment_of(row.lease_until)
    return is_due(JobStatus(row.status), moment_of(row.start_at), lease_until, now)

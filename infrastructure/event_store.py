"""The eventsourcing application on the configured database, with the msgspec mapper."""

from collections.abc import Collection, Iterator, Sequence
from functools import cache
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Mapper, Recording, StoredEvent
from eventsourcing.utils import resolve_topic

from application.event_log import JobLog, aggregates_from
from domain.user_deletions import UserDeletions
from infrastructure.data_key_table import KeyRef
from infrastructure.database_url import DatabaseUrl
from infrastructure.mapper import MsgspecMapper
from infrastructure.personal_data import NewKey, PersonalDataVault
from infrastructure.recorders import PostgresRecorder, SQLiteRecorder

RECORDER_TOPICS = {
    "sqlite": "infrastructure.recorders:SQLiteRecorder",
    "postgresql": "infrastructure.recorders:PostgresRecorder",
}


class SealedJobLog(JobLog):
    """The log whose personal fields are sealed with their subjects' data keys."""

    name = JobLog.name  # eventsourcing names the events table after it

    def __init__(self, vault: PersonalDataVault | None, env: dict[str, str]) -> None:
        self.vault = vault
        super().__init__(env=env)

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(vault=self.vault)

    def subject_of(self, project_id: int, user_id: str) -> str:
        if self.vault is None:
            raise LookupError("this log was opened without its personal data keys")
        return self.vault.subject(project_id, user_id)

    def may_hold_clear_ledgers(self) -> bool:
        return self.vault is not None and self.vault.sealed_from() > 1

    def aggregates_as_read(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any]:
        # One query for them all, not one per aggregate (a batch of scheduling
        # requests reads a ledger per user).
        recorder: SQLiteRecorder | PostgresRecorder = self.recorder  # type: ignore[assignment]
        stored = recorder.select_events_of(aggregate_ids)
        self.prepare_to_decode([event for events in stored.values() for event in events])
        return aggregates_from(self.mapper.to_domain_event, stored, aggregate_ids)

    def prepare_to_decode(self, notifications: Sequence[StoredEvent]) -> None:
        # The keys of a page's sealed events in one query, not one query per event.
        if self.vault is not None:
            self.vault.prefetch(sealed_key_refs(notifications))

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Appends the events, with the keys made for them in the same transaction
        (no transaction of their own, and no key without the events it seals)."""
        if self.vault is None:
            return super()._record(processing_event)
        made = keys_to_make(self.vault, processing_event.events, look_up=True)
        with self.vault.stored_with_next_append(made):
            return super()._record(processing_event)


def keys_to_make(vault: PersonalDataVault, events: Sequence[object], look_up: bool) -> list[NewKey]:
    """The data keys the events' personal fields are to be sealed with that do not
    exist yet: made now, in the vault's cache at once, to be stored by the append.

    A ledger opened by these very events has no key yet, so there is nothing to look
    up; any other key may exist already (a repeated request): one read for them all
    (``look_up``; a caller that read the subjects' keys already passes False). A key
    that did exist after all makes the append conflict, and the retry looks it up."""
    refs = {
        (event.subject, event.key_generation)  # type: ignore[attr-defined]
        for event in events
        if getattr(type(event), "personal_fields", ())
    }
    if not refs:
        return []
    opening = {(event.subject, 0) for event in events if isinstance(event, UserDeletions.Opened)}
    unknown = [ref for ref in refs if not vault.is_cached(ref)]
    if look_up:
        vault.prefetch(ref for ref in unknown if ref not in opening or vault.collided(ref))
    return vault.propose(ref for ref in unknown if not vault.is_cached(ref))


class _KeyRefFields(msgspec.Struct):
    subject: str = ""
    key_generation: int = 0
    sealed: str = ""


_key_ref_fields = msgspec.json.Decoder(_KeyRefFields)


@cache
def _is_personal(topic: str) -> bool:
    try:
        return bool(getattr(resolve_topic(topic), "personal_fields", ()))
    except Exception:  # an unknown topic: decoding will say so, not this
        return False


def sealed_key_refs(notifications: Sequence[StoredEvent]) -> Iterator[KeyRef]:
    for notification in notifications:
        if _is_personal(notification.topic):
            try:
                fields = _key_ref_fields.decode(notification.state)
            except (msgspec.DecodeError, TypeError):  # TypeError: no state at all
                continue  # damaged: decoding will say so
            if fields.sealed:
                yield (fields.subject, fields.key_generation)


def open_job_log(
    url: DatabaseUrl,
    create_tables: bool = False,
    pool_size: int = 5,
    max_overflow: int = 10,
    vault: PersonalDataVault | None = None,
) -> JobLog:
    env: dict[str, Any] = dict(url.eventsourcing_env)
    env["POSTGRES_POOL_SIZE"] = str(pool_size)
    env["POSTGRES_MAX_OVERFLOW"] = str(max_overflow)
    env["APPLICATION_RECORDER_TOPIC"] = RECORDER_TOPICS[url.backend]
    env["CREATE_TABLE"] = "y" if create_tables else "n"
    # Recently used aggregates stay in memory and are brought up to date with only
    # the events appended since (fast-forward): a running job is loaded once per
    # batch, and must not be re-read from its first event every time.
    env["AGGREGATE_CACHE_MAXSIZE"] = "2000"
    return SealedJobLog(vault, env)

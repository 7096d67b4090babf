"""The append-only log of every aggregate's events, and reading it in order."""

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import MapperDeserialisationError, Notification, StoredEvent
from eventsourcing.utils import TopicError

from application.errors import DamagedRecord
from domain.job import Job, job_aggregate_id


@dataclass(frozen=True, slots=True)
class Undecodable:
    """An event of the log that cannot be decoded: it stands in the event's place, so
    every reader can say where and what, and go on with the rest of the log."""

    originator_id: UUID
    originator_version: int
    detail: str

    def damage(self, position: int | None = None) -> DamagedRecord:
        return DamagedRecord(self.originator_id, self.detail, position)


@dataclass(slots=True)  # not frozen: a frozen __init__ costs twice as much, per event
class LoggedEvent:
    position: int
    event: "DomainEventProtocol[UUID] | Undecodable"


DECODING_ERRORS = (MapperDeserialisationError, TopicError, ValueError, TypeError, KeyError)
"""What reading a stored event raises when it cannot be read: edited bytes, a topic
that names nothing, a missing topic or state (the mapper says so), a seal that does
not open. Every reader of the log counts these, and only these, as damage."""


@contextmanager
def reading(aggregate_id: UUID) -> Iterator[None]:
    """Reading one aggregate's events: an event that cannot be read is DamagedRecord,
    whichever reader met it."""
    try:
        yield
    except DECODING_ERRORS as error:
        raise DamagedRecord(aggregate_id, f"{type(error).__name__}: {error}") from error


def missing_event(expected: int, found: int) -> str:
    """What a reader says of an aggregate whose next stored event is version ``found``
    where ``expected`` was due: an event was deleted from the log."""
    return f"event {expected} is missing (the next stored event is {found})"


def fold_in_sequence(aggregate: Any, events: Iterable[DomainEventProtocol[UUID]]) -> Any:
    """Applies the events to the aggregate as eventsourcing does, but names a gap in
    their versions as damage (eventsourcing would raise OriginatorVersionError, or
    fail an assertion when the first event is the one missing)."""
    for event in events:
        expected = 1 if aggregate is None else aggregate.version + 1
        if event.originator_version != expected:
            raise DamagedRecord(
                event.originator_id, missing_event(expected, event.originator_version)
            )
        aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
    return aggregate


def aggregates_from(
    to_event: Callable[[StoredEvent], DomainEventProtocol[UUID]],
    stored: Mapping[UUID, Sequence[StoredEvent]],
    aggregate_ids: Collection[UUID],
) -> dict[UUID, Any]:
    """Each aggregate folded from its stored events, in version order: None for one
    with none, a DamagedRecord for one whose events cannot be read or have a gap."""
    found: dict[UUID, Any] = {}
    for aggregate_id in aggregate_ids:
        try:
            with reading(aggregate_id):
                events = [to_event(event) for event in stored.get(aggregate_id, ())]
                found[aggregate_id] = fold_in_sequence(None, events)
        except DamagedRecord as damage:
            found[aggregate_id] = damage
    return found


def decoded(
    to_event: Callable[[StoredEvent], DomainEventProtocol[UUID]], stored: StoredEvent
) -> "DomainEventProtocol[UUID] | Undecodable":
    try:
        return to_event(stored)
    except DECODING_ERRORS as error:
        return Undecodable(
            UUID(str(stored.originator_id)),
            stored.originator_version,
            f"{type(error).__name__}: {error}",
        )


class LogPage:
    """A page of the log whose events are decoded one at a time as it is iterated.

    A fold that keeps only what it needs then holds no decoded events: a rebuild
    that held whole pages of them spent more time in the garbage collector,
    tracing them, than in its own code."""

    __slots__ = ("_notifications", "_to_event")

    def __init__(
        self,
        notifications: Sequence[Notification],
        to_event: Callable[[StoredEvent], DomainEventProtocol[UUID]],
    ) -> None:
        self._notifications = notifications
        self._to_event = to_event

    def __len__(self) -> int:
        return len(self._notifications)

    @property
    def last_position(self) -> int:
        return self._notifications[-1].id

    def __iter__(self) -> Iterator[LoggedEvent]:
        to_event = self._to_event
        for notification in self._notifications:
            yield LoggedEvent(notification.id, decoded(to_event, notification))


class JobLog(Application[UUID]):
    """The event store of jobtrail: aggregates are saved here and only here."""

    name = "jobtrail"

    def subject_of(self, project_id: int, user_id: str) -> str:
        """The keyed hash that names a user of a project in the log (ADR 18)."""
        raise NotImplementedError

    def may_hold_clear_ledgers(self) -> bool:
        """Whether the log began before users were named by subjects: its older
        ledgers are then found by the user id (ADR 18)."""
        raise NotImplementedError

    def job(self, job_id: int, version: int | None = None) -> Job | None:
        """The job now, or as it was after its event ``version`` (or its last event,
        if it has fewer)."""
        if job_id <= 0:
            return None
        job: object = self.aggregate_or_none(job_aggregate_id(job_id), version)
        return job if isinstance(job, Job) else None

    def latest_event_type(self, job_id: int) -> str | None:
        """The class name of the job's last event, read without decoding anything:
        cheap enough to ask between every two batches of a deletion (None if there is
        none, or its topic is missing: reading the job will say it is damaged)."""
        latest = self.recorder.select_events(job_aggregate_id(job_id), desc=True, limit=1)
        topic: object = latest[0].topic if latest else None
        return topic.rsplit(".", 1)[-1] if isinstance(topic, str) else None

    def aggregate_or_none(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The aggregate (up to ``version``), None if it has no events; DamagedRecord if
        one cannot be read."""
        try:
            with reading(aggregate_id):
                return self.repository.get(
                    aggregate_id, version=version, projector_func=fold_in_sequence
                )
        except AggregateNotFoundError:
            return None

    def aggregates_as_read(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any]:
        """Several aggregates, by id: None for one with no events, a DamagedRecord for
        one that cannot be read."""
        raise NotImplementedError

    def history_of(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, in order; DamagedRecord if one cannot be read
        or is missing."""
        events = self.readable_history_of(aggregate_id)
        for event in events:
            if isinstance(event, Undecodable):
                raise event.damage()
        return events

    def readable_history_of(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, in order, each decoded on its own: one that
        cannot be read, or is missing (a gap in the versions), is an ``Undecodable``
        in its place, and the others are still there to be shown."""
        with reading(aggregate_id):  # a row the driver itself cannot hand over
            stored = self.recorder.select_events(aggregate_id)
        self.prepare_to_decode(stored)
        events: list[Any] = []
        expected = 1
        for event in stored:
            if event.originator_version != expected:
                detail = missing_event(expected, event.originator_version)
                events.append(Undecodable(aggregate_id, expected, detail))
            events.append(decoded(self.mapper.to_domain_event, event))
            expected = event.originator_version + 1
        return events

    def stored(
        self, after: int = 0, batch: int = 5000, to_decode: bool = False
    ) -> Iterator[Notification]:
        """Every stored event after ``after``, in log order, undecoded (for the chain,
        which hashes the stored bytes; ``to_decode`` if the caller decodes them too)."""
        while True:
            page = self.recorder.select_notifications(
                start=after, limit=batch, inclusive_of_start=False
            )
            if to_decode:
                self.prepare_to_decode(page)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].id

    def pages(
        self, after: int = 0, batch: int = 5000, up_to: int | None = None
    ) -> Iterator["LogPage"]:
        """The log in pages after ``after`` (up to position ``up_to``), each decoded
        as it is iterated: the one way tools and checks read the whole log."""
        while up_to is None or after < up_to:
            page = self.page(after, batch, stop=up_to)
            if not len(page):
                return
            yield page
            after = page.last_position

    def entries(self, after: int = 0, batch: int = 5000) -> Iterator[LoggedEvent]:
        """Every event after ``after``, decoded, with its position."""
        for page in self.pages(after, batch):
            yield from page

    def page(self, after: int, limit: int, stop: int | None = None) -> "LogPage":
        """Up to ``limit`` events after position ``after`` (and at most at ``stop``),
        decoded as they are iterated."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, stop=stop, inclusive_of_start=False
        )
        self.prepare_to_decode(notifications)
        return LogPage(notifications, self.mapper.to_domain_event)

    def prepare_to_decode(self, notifications: Sequence[StoredEvent]) -> None:
        """Called with each page before its events are decoded (the store may fetch
        what decoding them needs in one go)."""

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

"""A msgspec mapper between domain events and stored events.

eventsourcing 9.5 ships a JSON transcoder that walks objects in Python; msgspec
encodes and decodes typed records in C. Keys are sorted so the stored bytes are a
canonical encoding of the event, which the audit's hash chain relies on.

An event's personal fields (its class names them in ``personal_fields``) are
stored sealed with its subject's data key, under ``sealed``; once the key is
destroyed they decode as the domain's forgotten values (ADR 18).
"""

import dataclasses
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar, Protocol
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
)
from eventsourcing.utils import get_topic, resolve_topic

from domain.request import FORGOTTEN_PERSONAL_DATA
from infrastructure.data_key_table import KeyRef
from infrastructure.personal_data import SealBroken

_ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version"})
_encoder = msgspec.json.Encoder(order="sorted")


@cache
def _state_type(event_class: type) -> type[msgspec.Struct]:
    """A msgspec record with the typed fields an event stores (all but its envelope)."""
    hints = typing.get_type_hints(event_class)
    defaults = {f.name: f for f in dataclasses.fields(event_class)}
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, hint in hints.items():
        if name in _ENVELOPE_FIELDS or typing.get_origin(hint) is ClassVar:
            continue
        field = defaults.get(name)
        if field is not None and field.default is not dataclasses.MISSING:
            fields.append((name, hint, field.default))
        elif field is not None and field.default_factory is not dataclasses.MISSING:
            fields.append((name, hint, msgspec.field(default_factory=field.default_factory)))
        else:
            fields.append((name, hint))
    required = [f for f in fields if len(f) == 2]
    optional = [f for f in fields if len(f) == 3]
    return msgspec.defstruct(f"{event_class.__qualname__}State", [*required, *optional])


@cache
def _decoder(event_class: type) -> Callable[[bytes], msgspec.Struct]:
    return msgspec.json.Decoder(_state_type(event_class)).decode


@cache
def _sealed_type(event_class: type) -> type[msgspec.Struct]:
    """The stored shape of an event with personal fields: those replaced by ``sealed``."""
    personal = set(event_class.personal_fields)  # type: ignore[attr-defined]
    required: list[Any] = [("sealed", str)]
    optional: list[Any] = []
    for field in msgspec.structs.fields(_state_type(event_class)):
        if field.name in personal:
            continue
        if field.required:
            required.append((field.name, field.type))
        elif field.default is not msgspec.NODEFAULT:
            optional.append((field.name, field.type, field.default))
        else:
            optional.append(
                (field.name, field.type, msgspec.field(default_factory=field.default_factory))
            )
    return msgspec.defstruct(f"{event_class.__qualname__}Sealed", required + optional)


@cache
def _sealed_decoder(event_class: type) -> Callable[[bytes], msgspec.Struct]:
    return msgspec.json.Decoder(_sealed_type(event_class)).decode


class Sealer(Protocol):
    """What the mapper asks of a vault (infrastructure.personal_data.PersonalDataVault)."""

    def seal(self, ref: KeyRef, aad: bytes, plaintext: bytes) -> str: ...
    def open(self, ref: KeyRef, aad: bytes, sealed: str) -> bytes | None: ...


class NoVault(LookupError):
    """Personal data met by a mapper that has no keys to seal or open it with."""


class MsgspecMapper(Mapper[UUID]):
    """Stores an event's fields as canonical msgspec JSON; decodes them back typed."""

    def __init__(self, vault: Sealer | None = None, open_sealed: bool = True) -> None:
        super().__init__(JSONTranscoder())  # never asked: msgspec encodes, below
        self._vault = vault
        self._open_sealed = open_sealed

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        personal = getattr(type(domain_event), "personal_fields", ())
        if personal:
            self._seal(state, personal, originator_id)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=_encoder.encode(state),
        )

    def _seal(self, state: dict[str, Any], personal: tuple[str, ...], originator_id: Any) -> None:
        if self._vault is None:
            raise NoVault("an event with personal data needs a vault to be stored")
        if not state.get("subject"):
            raise ValueError("an event with personal data must name its subject")
        fields = {name: state.pop(name) for name in personal}
        state["sealed"] = self._vault.seal(
            (state["subject"], state["key_generation"]),
            str(originator_id).encode(),
            _encoder.encode(fields),
        )

    def _open(self, raw: dict[str, Any], personal: tuple[str, ...], originator_id: str) -> None:
        """Puts the sealed personal fields back in place, or the forgotten values."""
        sealed = raw.pop("sealed")
        opened = None
        if self._open_sealed:  # a keyless reader leaves them sealed, read as forgotten
            if self._vault is None:
                raise NoVault("sealed personal data needs a vault to be read")
            ref = (raw["subject"], raw["key_generation"])
            opened = self._vault.open(ref, originator_id.encode(), sealed)
        if opened is None:
            raw.update({name: FORGOTTEN_PERSONAL_DATA[name] for name in personal})
        else:
            raw.update(msgspec.json.decode(opened))

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event_class = _event_class(stored_event)
        try:
            if getattr(event_class, "personal_fields", ()):
                state = self._decode_personal(event_class, stored_event)
            else:
                state = self._decode_state(event_class, stored_event.state)
        except (msgspec.DecodeError, msgspec.ValidationError, SealBroken, KeyError) as error:
            raise MapperDeserialisationError(
                f"Cannot decode event {stored_event.topic} of {stored_event.originator_id} "
                f"v{stored_event.originator_version}: {error}"
            ) from error
        state["originator_id"] = _as_uuid(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        domain_event: DomainEventProtocol[UUID] = object.__new__(event_class)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

    def _decode_personal(self, event_class: type, stored_event: StoredEvent) -> dict[str, Any]:
        if b'"sealed"' not in stored_event.state:
            # Written before sealing: the fields are in the clear.
            return self._decode_state(event_class, stored_event.state)
        state = self._decode_state(event_class, stored_event.state, sealed=True)
        personal = event_class.personal_fields  # type: ignore[attr-defined]
        self._open(state, personal, str(stored_event.originator_id))
        return state

    @staticmethod
    def _decode_state(event_class: type, data: bytes, sealed: bool = False) -> dict[str, Any]:
        class_version = getattr(event_class, "class_version", 1)
        if class_version == 1 or b'"class_version":%d,' % class_version in data:
            # Of the current version: the bytes can hold that only as a key (a quote
            # inside any text is escaped), and older versions were stored without it.
            decode = _sealed_decoder(event_class) if sealed else _decoder(event_class)
            return msgspec.structs.asdict(decode(data))
        # Older versions of the event are upcast field by field before typing.
        raw: dict[str, Any] = msgspec.json.decode(data)
        from_version = raw.pop("class_version", 1)
        while from_version < class_version:
            getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(raw)
            from_version += 1
        typed = _sealed_type(event_class) if sealed else _state_type(event_class)
        return msgspec.structs.asdict(msgspec.convert(raw, typed))


def keyless_mapper() -> MsgspecMapper:
    """Reads events with no key at all, as a checker away from the database does:
    sealed personal fields read as forgotten, everything else as stored."""
    return MsgspecMapper(open_sealed=False)


def _event_class(stored_event: StoredEvent) -> type:
    """The class a stored event names; MapperDeserialisationError, like any other event
    that cannot be decoded, for a row whose topic or state is missing (NULL) or whose
    topic names no event class: every reader of the log then counts it as damaged."""
    topic: object = stored_event.topic
    missing = "topic" if not isinstance(topic, str) else None
    missing = missing or ("state" if stored_event.state is None else None)
    if missing:
        raise MapperDeserialisationError(
            f"Cannot decode event of {stored_event.originator_id} "
            f"v{stored_event.originator_version}: its {missing} is missing"
        )
    assert isinstance(topic, str)
    return _resolved(topic)


_NEVER_TRIGGERED = ("Event", "Created")
"""eventsourcing's bases, redefined on every aggregate: no aggregate triggers them."""


@cache
def _resolved(topic: str) -> type:
    event_class = resolve_topic(topic)  # TopicError for a topic that names nothing
    if not (isinstance(event_class, type) and issubclass(event_class, DomainEvent)):
        raise MapperDeserialisationError(f"Cannot decode event {topic}: not an event class")
    # A base class would decode, and then stop the projection as an event it cannot
    # apply: a topic edited to name one is damage like any other. (jobtrail stores
    # no snapshots, eventsourcing's only events of its own.)
    if event_class.__module__.startswith("eventsourcing.") or (
        event_class.__qualname__.rsplit(".", 1)[-1] in _NEVER_TRIGGERED
    ):
        raise MapperDeserialisationError(f"Cannot decode event {topic}: no aggregate triggers it")
    return event_class


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)

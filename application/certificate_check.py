"""Checking a deletion certificate offline: no database, no network, only the document,
the public key and, if the auditor has them, checkpoints published earlier.

The steps are those of docs/audit-proof.md, in that order; the first that fails is
the one line the auditor reads.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from application.certificate_shape import (
    CERTIFICATE_FORMAT,
    Certificate,
    ProvenEvent,
    SignedCheckpoint,
)
from application.certificates import Decode, statements
from application.epoch import epoch_ms, moment_of
from application.event_log import fold_in_sequence
from domain.checkpoint import CLOCK_SKEW_MS, Checkpoint, MalformedCheckpoint
from domain.deadline import ONE_MONTH, extended_deadline
from domain.errors import DeadlineNotExtended
from domain.job import Job
from domain.log_entry import event_entry
from domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from domain.request import job_aggregate_id

JOB = get_topic(Job)
JOB_EVENTS = frozenset(
    get_topic(cls)
    for name, cls in vars(Job).items()
    if isinstance(cls, type) and issubclass(cls, DomainEvent) and name not in ("Event", "Created")
)
"""The topics a job's events are stored under (domain.job:Job.<Name>). A certificate's
topic is compared with these, never resolved: resolving imports the module it names,
on the auditor's machine. (eventsourcing redefines Event and Created on every
aggregate; no job triggers them.)"""
SCHEDULED = get_topic(Job.Scheduled)
_canonical = msgspec.json.Encoder(order="sorted")


class CertificateInvalid(Exception):
    """What fails, in one line."""


class Verifier(Protocol):
    @property
    def fingerprint(self) -> str: ...

    def verifies(self, signature: str, message: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class Verified:
    certificate: Certificate
    checkpoint: Checkpoint


def check_certificate(
    document: bytes, key: Verifier, decode: Decode, published: Sequence[SignedCheckpoint] = ()
) -> Verified:
    try:
        _each_key_once(document, "the certificate")
        certificate = msgspec.json.decode(document, type=Certificate)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise CertificateInvalid(f"not a deletion certificate: {error}") from error
    if certificate.format != CERTIFICATE_FORMAT:
        raise CertificateInvalid(f"unknown format {certificate.format!r}")
    if certificate.public_key_fingerprint != key.fingerprint:
        raise CertificateInvalid(
            f"signed with the key {certificate.public_key_fingerprint}, "
            f"not with the key given ({key.fingerprint})"
        )
    checkpoint = signed(certificate.checkpoint, key, "the certificate's checkpoint")
    _check_events(certificate.events, checkpoint)
    times = _check_statements(certificate, decode)
    for earlier in certificate.earlier_checkpoints:
        _check_extends(
            checkpoint, signed(earlier.checkpoint, key, "an earlier checkpoint"), earlier.proof
        )
    for checkpoint_seen in published:
        seen = signed(checkpoint_seen, key, "a published checkpoint")
        _check_published(certificate, checkpoint, seen)
        _check_dates(certificate.events, times, checkpoint, seen)
    return Verified(certificate, checkpoint)


def signed(document: SignedCheckpoint, key: Verifier, name: str) -> Checkpoint:
    """The checkpoint, if ``key`` signed it."""
    try:
        checkpoint = document.checkpoint
    except (MalformedCheckpoint, ValueError) as error:
        raise CertificateInvalid(f"{name} is malformed: {error}") from error
    if document.key_fingerprint != key.fingerprint or not key.verifies(
        document.signature, checkpoint.body()
    ):
        raise CertificateInvalid(f"{name} (size {document.size}) is not signed by the key given")
    return checkpoint


def _check_events(events: Sequence[ProvenEvent], checkpoint: Checkpoint) -> None:
    if not events:
        raise CertificateInvalid("the certificate holds no event")
    for expected_version, event in enumerate(events, start=1):
        where = f"event {event.originator_version} (position {event.position})"
        if event.originator_id != events[0].originator_id:
            raise CertificateInvalid(f"{where} belongs to another aggregate")
        if event.originator_version != expected_version:
            raise CertificateInvalid(
                f"{where} is out of sequence: version {expected_version} was due"
            )
        if expected_version > 1 and not (
            event.position > events[expected_version - 2].position
            and event.leaf_index > events[expected_version - 2].leaf_index
        ):
            raise CertificateInvalid(f"{where} does not come after the event before it in the log")
        try:
            state = base64.b64decode(event.state, validate=True)
            proof = [bytes.fromhex(h) for h in event.inclusion_proof]
            entry = event_entry(
                event.position,
                event.originator_id,
                event.originator_version,
                event.topic.encode(),
                state,
            )
        except (binascii.Error, ValueError, OverflowError) as error:  # a position past u64
            raise CertificateInvalid(f"{where} is malformed: {error}") from error
        if not verify_inclusion(
            leaf_hash(entry), event.leaf_index, checkpoint.size, proof, checkpoint.root
        ):
            raise CertificateInvalid(
                f"{where} is not in the log under the signed checkpoint of size {checkpoint.size}"
            )


def _check_statements(certificate: Certificate, decode: Decode) -> list[int]:
    """Checks what the certificate states; returns each event's time (epoch ms)."""
    events = _job_events(certificate.events, decode)
    try:
        stated = statements(events)
    except Exception as error:
        raise CertificateInvalid(f"the events do not read as a job's: {error}") from error
    _check_deadline(events)
    if certificate.events[0].originator_id != str(job_aggregate_id(stated["job"]["jobId"])):
        raise CertificateInvalid("the events are not those of the job they name")
    for name, value in stated.items():
        # As JSON values, as the document states them: in Python true == 1 == 1.0.
        if _canonical.encode(getattr(certificate, name)) != _canonical.encode(value):
            raise CertificateInvalid(f"the certificate's {name} does not follow from its events")
    return [epoch_ms(vars(event)["timestamp"]) for event in events]


def _job_events(events: Sequence[ProvenEvent], decode: Decode) -> list[DomainEventProtocol[UUID]]:
    """The events, read as a job's and nothing else."""
    decoded = []
    for event in events:
        where = f"event {event.originator_version} (position {event.position})"
        if event.topic not in JOB_EVENTS:
            raise CertificateInvalid(f"{where} is not an event of a job: {event.topic!r}")
        if (event.topic == SCHEDULED) != (event.originator_version == 1):
            raise CertificateInvalid(f"{where}: a job is scheduled once, by its first event")
        state = base64.b64decode(event.state)
        _each_key_once(state, where)
        try:
            decoded.append(
                decode(
                    StoredEvent(
                        originator_id=UUID(event.originator_id),
                        originator_version=event.originator_version,
                        topic=event.topic,
                        state=state,
                    )
                )
            )
        except Exception as error:
            raise CertificateInvalid(f"{where} does not read as a job's: {error}") from error
    if vars(decoded[0]).get("originator_topic") != JOB:
        raise CertificateInvalid("the first event schedules something that is not a job")
    return decoded


def _check_deadline(events: Sequence[DomainEventProtocol[UUID]]) -> None:
    """dueBy follows from the events, but whoever holds the key writes the events: it
    is held to the rules jobtrail keeps when it writes them (domain.deadline), so a
    certificate cannot give a request more time than the law does, nor move a deadline
    once it has passed (a late answer would then read as on time)."""
    scheduled = vars(events[0])
    if scheduled["respond_by"] > ONE_MONTH.after(scheduled["timestamp"]):
        raise CertificateInvalid("the job's request was given a deadline past the law's month")
    for version, event in enumerate(events, start=1):
        if not isinstance(event, Job.DeadlineExtended):
            continue
        job: Job = fold_in_sequence(None, events[: version - 1])
        try:  # the reason is sealed: any reason jobtrail takes will do
            extended_deadline(
                job.status, job.created_on, job.respond_by, at=event.timestamp,
                reason="sealed", until=event.respond_by,
            )  # fmt: skip
        except DeadlineNotExtended as error:
            raise CertificateInvalid(
                f"event {version} moves the deadline as jobtrail never does: {error}"
            ) from error


def published_checkpoints(document: bytes, what: str) -> list[SignedCheckpoint]:
    """The checkpoints of a file an auditor kept (one, or a list): like a certificate,
    it names no key twice in one object, or it says two things (docs/audit-proof.md)."""
    _each_key_once(document, what)
    try:
        found = msgspec.json.decode(document, type=SignedCheckpoint | list[SignedCheckpoint])
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise CertificateInvalid(f"{what} is not a checkpoint: {error}") from error
    return found if isinstance(found, list) else [found]


def _each_key_once(data: bytes, what: str) -> None:
    """Canonical JSON never names a key twice in one object, and readers differ on which
    of the two counts (the last, the first, or neither): such a document says two things."""

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise CertificateInvalid(f"{what} names {key!r} twice in one object")
            seen[key] = value
        return seen

    try:
        json.loads(data, object_pairs_hook=once)
    except (ValueError, RecursionError) as error:
        raise CertificateInvalid(f"{what} is not JSON: {error}") from error


def _check_extends(checkpoint: Checkpoint, earlier: Checkpoint, proof: Sequence[str]) -> None:
    try:
        hashes = [bytes.fromhex(h) for h in proof]
    except ValueError as error:
        raise CertificateInvalid(f"the proof from size {earlier.size} is malformed") from error
    if earlier.origin != checkpoint.origin or not verify_consistency(
        earlier.size, checkpoint.size, earlier.root, checkpoint.root, hashes
    ):
        raise CertificateInvalid(
            f"the log at size {checkpoint.size} does not extend the checkpoint of size "
            f"{earlier.size}: the log before it was rewritten"
        )


def _check_dates(
    events: Sequence[ProvenEvent], times: Sequence[int], checkpoint: Checkpoint, seen: Checkpoint
) -> None:
    """A published checkpoint dates the log, whoever holds the key: the events it holds
    happened before it was signed, those it does not hold after, and a checkpoint of
    more events was signed after it. An event's own time is the writer's word (a clock
    set back makes a late completion look timely); this is where it meets a time the
    operator committed to earlier (within CLOCK_SKEW_MS)."""
    if checkpoint.size > seen.size and checkpoint.signed_at < seen.signed_at - CLOCK_SKEW_MS:
        raise CertificateInvalid(
            f"the certificate's checkpoint (size {checkpoint.size}) is dated "
            f"{_iso(checkpoint.signed_at)}, before the published checkpoint of size "
            f"{seen.size} that it extends ({_iso(seen.signed_at)})"
        )
    for event, moment in zip(events, times, strict=True):
        held = event.leaf_index < seen.size
        late, early = (
            moment - seen.signed_at > CLOCK_SKEW_MS,
            seen.signed_at - moment > CLOCK_SKEW_MS,
        )
        if late if held else early:
            raise CertificateInvalid(
                f"event {event.originator_version} (position {event.position}) is dated "
                f"{_iso(moment)}, but it entered the log {'before' if held else 'after'} the "
                f"published checkpoint of size {seen.size} was signed ({_iso(seen.signed_at)})"
            )


def _iso(ms: int) -> str:
    return moment_of(ms).isoformat(timespec="milliseconds")


def _check_published(certificate: Certificate, checkpoint: Checkpoint, seen: Checkpoint) -> None:
    if seen.origin != checkpoint.origin:
        raise CertificateInvalid(f"the published checkpoint is of another log ({seen.origin})")
    if seen.size > checkpoint.size:
        raise CertificateInvalid(
            f"the published checkpoint (size {seen.size}) is newer than the certificate's "
            f"({checkpoint.size}): ask for a certificate issued after it"
        )
    if (seen.size, seen.root) == (checkpoint.size, checkpoint.root):
        return
    proven = {e.checkpoint.size: e.checkpoint.root for e in certificate.earlier_checkpoints}
    if seen.size not in proven:
        raise CertificateInvalid(
            f"the certificate does not prove its log extends the published checkpoint of size "
            f"{seen.size} (issue it with --consistent-with {seen.size})"
        )
    if proven[seen.size] != seen.root.hex():
        raise CertificateInvalid(
            f"the log was rewritten: at size {seen.size} its root is not the published one"
        )

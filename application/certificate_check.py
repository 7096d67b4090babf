"""Checking a deletion certificate offline: no database, no network, only the document,
the public key and, if the auditor has them, checkpoints published earlier.

The steps are those of docs/audit-proof.md, in that order; the first that fails is
the one line the auditor reads.
"""

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from application.certificate_shape import (
    CERTIFICATE_FORMAT,
    Certificate,
    ProvenEvent,
    SignedCheckpoint,
)
from application.certificates import Decode, statements
from domain.checkpoint import Checkpoint, MalformedCheckpoint
from domain.log_entry import event_entry
from domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from domain.request import job_aggregate_id


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
    _check_statements(certificate, decode)
    for earlier in certificate.earlier_checkpoints:
        _check_extends(
            checkpoint, signed(earlier.checkpoint, key, "an earlier checkpoint"), earlier.proof
        )
    for checkpoint_seen in published:
        _check_published(
            certificate, checkpoint, signed(checkpoint_seen, key, "a published checkpoint")
        )
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
        except (binascii.Error, ValueError) as error:
            raise CertificateInvalid(f"{where} is malformed: {error}") from error
        entry = event_entry(
            event.position,
            event.originator_id,
            event.originator_version,
            event.topic.encode(),
            state,
        )
        if not verify_inclusion(
            leaf_hash(entry), event.leaf_index, checkpoint.size, proof, checkpoint.root
        ):
            raise CertificateInvalid(
                f"{where} is not in the log under the signed checkpoint of size {checkpoint.size}"
            )


def _check_statements(certificate: Certificate, decode: Decode) -> None:
    try:
        events = [
            decode(
                StoredEvent(
                    originator_id=UUID(e.originator_id),
                    originator_version=e.originator_version,
                    topic=e.topic,
                    state=base64.b64decode(e.state),
                )
            )
            for e in certificate.events
        ]
        stated = statements(events)
    except Exception as error:
        raise CertificateInvalid(f"the events do not read as a job's: {error}") from error
    if certificate.events[0].originator_id != str(job_aggregate_id(stated["job"]["jobId"])):
        raise CertificateInvalid("the events are not those of the job they name")
    for name, value in stated.items():
        if getattr(certificate, name) != value:
            raise CertificateInvalid(f"the certificate's {name} does not follow from its events")


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

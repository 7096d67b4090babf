"""The deletion certificate and the signed checkpoint as documents: one shape, read and
written by msgspec, camelCase on the wire (docs/audit-proof.md describes each field)."""

from typing import Annotated, Any

import msgspec

from domain.checkpoint import Checkpoint

CERTIFICATE_FORMAT = "jobtrail-deletion-certificate/v1"

Hash = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
"""A SHA-256 hash in lowercase hex, the one way the signed message writes a root: a
root written otherwise would pass here and fail an auditor's own checker."""
Count = Annotated[int, msgspec.Meta(ge=0)]
"""A size, position or leaf index (an entry's u64 bounds positions above)."""


class SignedCheckpoint(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    origin: str
    size: Count
    root: Hash
    """The tree's root hash."""
    signed_at: int
    key_fingerprint: Hash
    """SHA-256 of the signing key's 32 raw public bytes, in hex."""
    signature: str
    """Ed25519 over ``Checkpoint.body()``, in base64."""

    @property
    def checkpoint(self) -> Checkpoint:
        """The signed statement; MalformedCheckpoint or ValueError if it is not one."""
        return Checkpoint(self.origin, self.size, bytes.fromhex(self.root), self.signed_at)

    @classmethod
    def of(cls, checkpoint: Checkpoint, fingerprint: str, signature: str) -> "SignedCheckpoint":
        return cls(
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root.hex(),
            checkpoint.signed_at,
            fingerprint,
            signature,
        )


class ProvenEvent(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """One of the job's events exactly as the log stores it, and where."""

    position: Count
    leaf_index: Count
    originator_id: str
    originator_version: int
    topic: str
    state: str
    """The stored bytes, in base64 (personal fields in them are sealed)."""
    inclusion_proof: list[Hash]
    """RFC 9162 inclusion proof of the event's leaf in the checkpoint's tree."""


class Consistency(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """An earlier checkpoint, and the proof that the certificate's checkpoint extends it."""

    checkpoint: SignedCheckpoint
    proof: list[Hash]


class Certificate(
    msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True, omit_defaults=True
):
    format: str
    job: dict[str, Any]
    """The job as the API shows it, without the fields that name the person."""
    personal_data: str
    """``sealed`` while the job's key exists, ``forgotten`` once it is destroyed."""
    receipt: dict[str, int]
    """What the job deleted, per target and table, summed from its events."""
    remaining: dict[str, int] | None
    """What the job's last check still found, per target (none: nothing)."""
    last_remains_search: dict[str, Any] | None
    events: list[ProvenEvent]
    checkpoint: SignedCheckpoint
    earlier_checkpoints: list[Consistency]
    public_key_fingerprint: Hash
    issued_at: int
    receipt_unconfirmed: dict[str, int] | None = None
    """What a worker reported deleted after its lease had run out and the job was
    taken over (the worker that took it over may have counted the same items): the
    job deleted ``receipt``, and at most this more. Absent when there is none."""


def encode(document: Certificate | SignedCheckpoint | list[SignedCheckpoint]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"

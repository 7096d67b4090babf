"""A deletion certificate: everything the log says about one job, with the proof that
the log said it under a signed checkpoint (docs/audit-proof.md).

What the certificate states (the job, its receipt, its last checks) is folded from the
events it carries, so a checker folds them again and compares: a statement that does
not follow from the proven events does not verify.
"""

import base64
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent

from application.audit import plain
from application.certificate_shape import (
    CERTIFICATE_FORMAT,
    Certificate,
    Consistency,
    ProvenEvent,
    SignedCheckpoint,
)
from application.errors import JobNotFound
from application.event_log import fold_in_sequence
from application.job_records import job_view
from domain.job import Job
from domain.merkle import consistency_path, inclusion_path
from domain.request import FORGOTTEN_PERSONAL_DATA

Decode = Callable[[StoredEvent], DomainEventProtocol[UUID]]
NAMES_THE_PERSON = ("referenceId", "description")
"""The job's fields that hold the user id: a certificate never carries them."""


class CannotCertify(Exception):
    """A certificate cannot be issued now (the reason says what to do)."""


class ProofTree(Protocol):
    def leaf_indexes(self, positions: Collection[int]) -> dict[int, int]: ...

    def subtrees(self, lo: int, hi: int) -> bytes: ...

    def disagreement(self, size: int) -> str | None: ...


def statements(events: Sequence[DomainEventProtocol[UUID]]) -> dict[str, Any]:
    """What a certificate says of the job, from its events: the issuer and the checker
    both call this, so the two cannot disagree on what the events mean."""
    job: Job = fold_in_sequence(None, events)
    view = msgspec.to_builtins(job_view(job))
    checks = [vars(e)["remaining"] for e in events if vars(e).get("remaining") is not None]
    forgotten = any(type(e).__name__ == Job.PersonalDataForgotten.__name__ for e in events)
    return {
        "job": {key: value for key, value in view.items() if key not in NAMES_THE_PERSON},
        "personal_data": "forgotten" if forgotten else "sealed",
        "receipt": dict(job.deleted),
        "receipt_unconfirmed": dict(job.unconfirmed) or None,
        "remaining": dict(checks[-1]) if checks else None,
        "last_remains_search": plain(job.remains_searches[-1]) if job.remains_searches else None,
    }


def issue_certificate(
    job_id: int,
    stored: Sequence[Notification],
    decode: Decode,
    tree: ProofTree,
    checkpoints: Sequence[SignedCheckpoint],
    fingerprint: str,
    issued_at: int,
    consistent_with: Collection[int] = (),
) -> Certificate:
    """The certificate of the job whose stored events (with their positions) are
    ``stored``, under the latest checkpoint signed with the key ``fingerprint``."""
    if not stored:
        raise JobNotFound(job_id)
    try:
        events = [decode(event) for event in stored]
        stated = statements(events)
    except Exception as error:  # whatever a damaged event raises on its way through
        raise CannotCertify(f"job {job_id}'s events cannot be read: {error}") from error
    _refuse_clear_personal_data(job_id, stored, events)
    leaves = tree.leaf_indexes([event.id for event in stored])
    mine = [c for c in checkpoints if c.key_fingerprint == fingerprint]
    covering = mine[-1] if mine else None
    rewritten = tree.disagreement(covering.size) if covering else None
    if covering is not None and rewritten is not None:
        raise CannotCertify(
            f"the log was rewritten since the checkpoint of size {covering.size} was signed: "
            f"{rewritten}"
        )
    last_leaf = leaves.get(stored[-1].id)
    if covering is None or last_leaf is None or covering.size <= last_leaf:
        raise CannotCertify(
            f"job {job_id}'s last event is not under a checkpoint signed with this key "
            "yet: sign one (jobtrail audit checkpoint)"
        )
    size = covering.size
    proven = [
        ProvenEvent(
            position=event.id,
            leaf_index=leaves[event.id],
            originator_id=str(event.originator_id),
            originator_version=event.originator_version,
            topic=event.topic,
            state=base64.b64encode(event.state).decode("ascii"),
            inclusion_proof=[
                h.hex() for h in inclusion_path(tree.subtrees, size, leaves[event.id])
            ],
        )
        for event in stored
    ]
    return Certificate(
        format=CERTIFICATE_FORMAT,
        events=proven,
        checkpoint=covering,
        earlier_checkpoints=_earlier(tree, mine, covering, leaves[stored[0].id], consistent_with),
        public_key_fingerprint=fingerprint,
        issued_at=issued_at,
        **stated,
    )


def _earlier(
    tree: ProofTree,
    checkpoints: Sequence[SignedCheckpoint],
    covering: SignedCheckpoint,
    first_leaf: int,
    sizes: Collection[int],
) -> list[Consistency]:
    """Proofs that the covering checkpoint extends the last one signed before the job
    was requested (a checkpoint published then ties the job to the log seen then),
    and each one asked for by size."""
    before = [c for c in checkpoints if c.size <= first_leaf]
    wanted = [before[-1]] if before else []
    for size in sizes:
        match = [c for c in checkpoints if c.size == size]
        if not match:
            raise CannotCertify(f"no checkpoint of size {size} was signed with this key")
        wanted.append(match[-1])
    unique = {(c.size, c.root): c for c in wanted if c.size <= covering.size}
    return [
        Consistency(
            checkpoint=c,
            proof=[h.hex() for h in consistency_path(tree.subtrees, covering.size, c.size)],
        )
        for c in sorted(unique.values(), key=lambda c: c.size)
    ]


def _refuse_clear_personal_data(
    job_id: int, stored: Sequence[StoredEvent], events: Sequence[DomainEventProtocol[UUID]]
) -> None:
    for stored_event, event in zip(stored, events, strict=True):
        personal = getattr(type(event), "personal_fields", ())
        in_the_clear = b'"sealed"' not in stored_event.state
        fields = vars(event)
        if in_the_clear and any(fields[f] != FORGOTTEN_PERSONAL_DATA.get(f) for f in personal):
            raise CannotCertify(
                f"job {job_id} was requested before personal data was sealed (ADR 18): its "
                "events hold the user id in the clear, and a certificate would carry it"
            )

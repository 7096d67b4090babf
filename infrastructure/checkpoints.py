"""Signed checkpoints of the log: stored, listed, and written by whoever holds the key."""

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, insert, inspect, select

from application.certificate_shape import Certificate, SignedCheckpoint
from application.certificates import issue_certificate
from application.epoch import epoch_ms
from application.event_log import JobLog
from application.ports import Clock
from domain.checkpoint import Checkpoint, should_sign
from domain.request import job_aggregate_id
from infrastructure.database import Database
from infrastructure.log_tree import LogTree, roots_from_log
from infrastructure.proof_tables import LOG_ORIGIN, log_checkpoints
from infrastructure.signing import PublicKey, SigningKey
from infrastructure.tables import service_secrets

_COLUMNS = (
    log_checkpoints.c.origin,
    log_checkpoints.c.tree_size,
    log_checkpoints.c.root_hash,
    log_checkpoints.c.signed_at,
    log_checkpoints.c.key_fingerprint,
    log_checkpoints.c.signature,
)


class CheckpointStore:
    def __init__(self, database: Database, tree: LogTree, clock: Clock) -> None:
        self._database = database
        self._tree = tree
        self._clock = clock
        self._origin: str | None = None
        self._table_seen = False

    def origin(self) -> str:
        if self._origin is None:  # made once with the database, never changed
            with self._database.reader() as conn:
                query = select(service_secrets.c.value).where(service_secrets.c.name == LOG_ORIGIN)
                self._origin = str(conn.execute(query).scalar_one())
        return self._origin

    def sign(self, key: SigningKey, only_if_grown: bool = False) -> SignedCheckpoint | None:
        """Brings the tree up to the log's head and signs its size and root now (when
        ``only_if_grown``, only if the log grew since the last checkpoint)."""
        size = self._tree.extend()
        latest = self.latest()
        if only_if_grown and not should_sign(latest.checkpoint if latest else None, size):
            return None
        with self._tree.reading() as tree:
            root = tree.root(size)
        checkpoint = Checkpoint(self.origin(), size, root, epoch_ms(self._clock.now()))
        signed = SignedCheckpoint.of(
            checkpoint, key.public.fingerprint, key.sign(checkpoint.body())
        )
        with self._database.writer() as conn:
            conn.execute(
                insert(log_checkpoints).values(
                    origin=checkpoint.origin,
                    tree_size=checkpoint.size,
                    root_hash=checkpoint.root.hex(),
                    signed_at=checkpoint.signed_at,
                    key_fingerprint=signed.key_fingerprint,
                    signature=signed.signature,
                )
            )
        return signed

    def certificate(
        self, log: JobLog, job_id: int, fingerprint: str, consistent_with: Collection[int] = ()
    ) -> Certificate:
        """The job's certificate as the database holds it now, under the last checkpoint
        signed with the key ``fingerprint`` (CannotCertify, JobNotFound if there is none)."""
        stored = log.recorder.select_positioned_events(  # type: ignore[attr-defined]
            job_aggregate_id(job_id)
        )
        with self._tree.reading() as tree:
            return issue_certificate(
                job_id,
                stored,
                log.mapper.to_domain_event,
                tree,
                self.all(),
                fingerprint,
                epoch_ms(self._clock.now()),
                consistent_with,
            )

    def all(self) -> list[SignedCheckpoint]:
        """Every checkpoint, in the order they were signed."""
        return [
            _signed(row) for row in self._read(select(*_COLUMNS).order_by(log_checkpoints.c.id))
        ]

    def latest(self) -> SignedCheckpoint | None:
        rows = self._read(select(*_COLUMNS).order_by(log_checkpoints.c.id.desc()).limit(1))
        return _signed(rows[0]) if rows else None

    def _read(self, query: Select[Any]) -> Sequence[Row[Any]]:
        """The rows, or none from a database made before checkpoints, which a command
        that only reads does not upgrade (asked of the catalog until the table is seen)."""
        with self._database.reader() as conn:
            if not self._table_seen:
                if not inspect(conn).has_table(log_checkpoints.name):
                    return []
                self._table_seen = True
            return conn.execute(query).all()


def _signed(row: Sequence[object]) -> SignedCheckpoint:
    origin, size, root, signed_at, fingerprint, signature = row
    return SignedCheckpoint(
        origin=str(origin),
        size=int(size),  # type: ignore[call-overload]
        root=str(root),
        signed_at=int(signed_at),  # type: ignore[call-overload]
        key_fingerprint=str(fingerprint),
        signature=str(signature),
    )


def consistency_failures(
    log: JobLog, checkpoints: Sequence[SignedCheckpoint], key: PublicKey
) -> list[str]:
    """What is wrong with the checkpoints against the log as it is now: a signature
    that is not the key's, or a root the log no longer gives (it was rewritten)."""
    failures = []
    roots = roots_from_log(log, [c.size for c in checkpoints])
    for each in checkpoints:
        signed_at = datetime.fromtimestamp(each.signed_at / 1000, UTC).isoformat(timespec="seconds")
        name = f"the checkpoint of size {each.size} signed at {signed_at}"
        try:
            body = each.checkpoint.body()
        except ValueError as malformed:  # MalformedCheckpoint too: a row edited by hand
            failures.append(f"{name} is malformed: {malformed}")
            continue
        if each.key_fingerprint != key.fingerprint or not key.verifies(each.signature, body):
            failures.append(f"{name} is not signed by the key given")
        elif each.size not in roots:
            failures.append(f"{name} covers more events than the log holds: it was cut short")
        elif roots[each.size].hex() != each.root:
            failures.append(f"{name} is not the log's root at that size: the log was rewritten")
    return failures

"""What a signed checkpoint says: the log of one installation held ``size`` events whose
Merkle tree (domain.merkle) has this root, at this moment.

The signature is over ``body()``: five lines of ASCII, each ending in a newline, in the
manner of the transparency logs' checkpoints (docs/audit-proof.md), so a checker in any
language rebuilds the exact bytes from the fields.
"""

from dataclasses import dataclass

FORMAT = "jobtrail-checkpoint/v1"
LAST_DATE_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: a checkpoint dated later names no day anyone can read."""
CLOCK_SKEW_MS = 10 * 60 * 1000
"""How far an honest event's time may fall on the wrong side of a checkpoint's: the
event is dated by its writer's clock before its append commits, the checkpoint by
the signer's, on another machine perhaps. Ten minutes; a deadline is a matter of days."""


class MalformedCheckpoint(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    """The installation whose log this is (a random id made with its database)."""
    size: int
    root: bytes
    signed_at: int
    """Epoch milliseconds."""

    def __post_init__(self) -> None:
        if not self.origin or not self.origin.isascii() or not self.origin.isprintable():
            raise MalformedCheckpoint("a checkpoint's origin is printable ASCII")
        if self.size < 0 or self.signed_at < 0:
            raise MalformedCheckpoint("a checkpoint's size and time are not negative")
        if self.signed_at > LAST_DATE_MS:
            raise MalformedCheckpoint("a checkpoint's time is before the year 10000")
        if len(self.root) != 32:
            raise MalformedCheckpoint("a checkpoint's root is 32 bytes")

    def body(self) -> bytes:
        lines = (FORMAT, self.origin, str(self.size), self.root.hex(), str(self.signed_at))
        return "".join(line + "\n" for line in lines).encode("ascii")


def should_sign(latest: Checkpoint | None, size: int) -> bool:
    """A scheduled checkpoint is worth writing when the log grew since the last one
    (an explicit request always writes one: it dates the log's state)."""
    return latest is None or size > latest.size

"""The bytes that stand for one event of the log, wherever the log is proven.

The hash chain hashes them after the previous link (``sha256(previous || entry)``) and
the Merkle tree takes them as a leaf (``sha256(0x00 || entry)``), so both prove the
same thing about an event, and an auditor's checker encodes an event once
(docs/audit-proof.md): its position in the log, the aggregate it belongs to, its
version, its topic and its stored state, each variable-length field prefixed with its
length as 8 big-endian bytes.
"""


def field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def event_entry(
    position: int, originator_id: str, originator_version: int, topic: bytes, state: bytes
) -> bytes:
    return b"".join(
        (
            position.to_bytes(8, "big"),
            field(originator_id.encode()),
            originator_version.to_bytes(8, "big", signed=True),
            field(topic),
            field(state),
        )
    )

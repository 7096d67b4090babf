"""The tables of the log's Merkle tree and its signed checkpoints (ADR 27).

Derived from the log and rebuilt from it if lost, except the checkpoints: each is a
signature made at one moment, which nothing can remake without the signing key.
"""

import uuid

from sqlalchemy import BigInteger, Column, Integer, PrimaryKeyConstraint, String, Table, Text

from infrastructure.tables import metadata

LOG_ORIGIN = "log_origin"
"""The service secret naming this installation's log in its checkpoints (not secret:
kept there because it is made once, with the database)."""


def new_log_origin() -> str:
    return f"jobtrail:{uuid.uuid4()}"


# Leaf i of the tree is the i-th event of the log in position order; positions may
# have gaps (a rolled-back append spends its ids), leaf indexes have none.
log_leaves = Table(
    "log_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False, unique=True),
    Column("hash", String(64), nullable=False),
)

# Every complete subtree above the leaves: node (level, i) is MTH of leaves
# [i * 2**level, (i + 1) * 2**level). Written once, when its last leaf arrives.
log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("node_index", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("level", "node_index", name="log_nodes_pkey"),
)

log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", Text, nullable=False),
    Column("tree_size", BigInteger, nullable=False, index=True),
    Column("root_hash", String(64), nullable=False),
    Column("signed_at", BigInteger, nullable=False),
    Column("key_fingerprint", String(64), nullable=False),
    Column("signature", Text, nullable=False),
    sqlite_autoincrement=True,
)

"""The Merkle tree over the event log (RFC 9162, domain.merkle), stored so that proofs
cost O(log n) reads.

The tree is extended after the fact, not by the append: scheduling pays nothing for it
(ADR 27). Whoever signs a checkpoint first brings the tree up to the log's head. Leaves
are stored with their positions and every complete subtree as a node, so the hash of
any subtree a proof needs is one stored node or a few of them (the right edge).
Extending is serialised across processes by the database: PostgreSQL's advisory lock
for the transaction, SQLite's write lock.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Table, func, insert, select, tuple_

from application.event_log import JobLog
from domain.merkle import EMPTY_ROOT, leaf_hash, node_hash, split_point
from infrastructure.chain import stored_entry
from infrastructure.database import Database
from infrastructure.proof_tables import log_leaves, log_nodes

_EXTEND_LOCK = "SELECT pg_advisory_xact_lock(hashtext('jobtrail.log_tree'))"


@dataclass(frozen=True, slots=True)
class _Complete:
    level: int
    hash: bytes


class LogTree:
    def __init__(self, database: Database, log: JobLog, batch: int = 5000) -> None:
        self._database = database
        self._log = log
        self._batch = batch

    def size(self) -> int:
        with self._database.reader() as conn:
            return _size(conn)

    def extend(self) -> int:
        """Adds every event the log holds beyond the tree; returns the tree's size.

        Events are read and hashed before the write lock is taken, so appends wait
        only for the inserts; a racing extender that got there first is noticed under
        the lock, and the page is read again."""
        while True:
            with self._database.reader() as conn:
                size = _size(conn)
                after = _last_position(conn, size)
            page = list(islice(self._log.stored(after, self._batch), self._batch))
            if not page:
                return size
            leaves = [leaf_hash(stored_entry(event.id, event)) for event in page]
            with self._database.writer(durable=False) as conn:  # derived: redone if lost
                if self._database.backend == "postgresql":
                    conn.exec_driver_sql(_EXTEND_LOCK)
                if _size(conn) != size:
                    continue
                _append(conn, size, leaves, page)
            if len(page) < self._batch:
                return size + len(page)

    @contextmanager
    def reading(self) -> Iterator["TreeReader"]:
        position = "rowid" if self._database.backend == "sqlite" else "notification_id"
        with self._database.reader() as conn:
            yield TreeReader(conn, self._database.url.events_table, position)


class TreeReader:
    """Proof material from one snapshot of the stored tree."""

    def __init__(self, conn: Connection, events: str = "", position: str = "") -> None:
        self._conn = conn
        self._events = events
        self._position = position
        self._nodes: dict[tuple[int, int], bytes] = {}

    def disagreement(self, size: int) -> str | None:
        """Whether the log still holds exactly the events of the tree's first ``size``
        leaves, by position (an event deleted or slipped in since), asked of the
        database; None if it does. What an event holds is what proofs check."""
        if not size:
            return None
        if _size(self._conn) < size:
            return f"the tree holds fewer than {size} events: the log was cut short"
        last = _last_position(self._conn, size)
        events, position = self._events, self._position
        lost = self._conn.exec_driver_sql(
            f"SELECT l.position FROM log_leaves l WHERE l.leaf_index < {int(size)} "  # noqa: S608 - our own names
            f"AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.{position} = l.position) "
            "ORDER BY l.position LIMIT 1"
        ).scalar_one_or_none()
        if lost is not None:
            return f"the event at position {lost} is gone from the log"
        added = self._conn.exec_driver_sql(
            f"SELECT e.{position} FROM {events} e WHERE e.{position} <= {int(last)} "  # noqa: S608 - our own names
            "AND NOT EXISTS (SELECT 1 FROM log_leaves l WHERE l.position = "
            f"e.{position}) ORDER BY 1 LIMIT 1"
        ).scalar_one_or_none()
        if added is not None:
            return f"the event at position {added} was added to the log after the fact"
        return None

    def size(self) -> int:
        return _size(self._conn)

    def leaf_indexes(self, positions: Iterable[int]) -> dict[int, int]:
        """The leaf index of each position the tree holds."""
        wanted = list(positions)
        query = select(log_leaves.c.position, log_leaves.c.leaf_index).where(
            log_leaves.c.position.in_(wanted)
        )
        return {int(p): int(i) for p, i in self._conn.execute(query)} if wanted else {}

    def root(self, size: int) -> bytes:
        return self.subtrees(0, size) if size else EMPTY_ROOT

    def subtrees(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a subtree of RFC 9162's recursion (``Subtrees``)."""
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            level = width.bit_length() - 1
            return self._node(level, lo >> level)
        middle = lo + split_point(width)
        return node_hash(self.subtrees(lo, middle), self.subtrees(middle, hi))

    def _node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._nodes:
            if level == 0:
                query = select(log_leaves.c.hash).where(log_leaves.c.leaf_index == index)
            else:
                query = select(log_nodes.c.hash).where(
                    tuple_(log_nodes.c.level, log_nodes.c.node_index) == (level, index)
                )
            found = self._conn.execute(query).scalar_one_or_none()
            if found is None:
                raise LookupError(f"the stored tree has no node {key}: it was cut short")
            self._nodes[key] = bytes.fromhex(found)
        return self._nodes[key]


def _size(conn: Connection) -> int:
    last = conn.execute(select(func.max(log_leaves.c.leaf_index))).scalar_one_or_none()
    return 0 if last is None else int(last) + 1


def _last_position(conn: Connection, size: int) -> int:
    if not size:
        return 0
    query = select(log_leaves.c.position).where(log_leaves.c.leaf_index == size - 1)
    return int(conn.execute(query).scalar_one())


def _frontier(conn: Connection, size: int) -> list[_Complete]:
    """The complete subtrees the tree of ``size`` leaves ends with, largest first: the
    only ones a new leaf can merge with."""
    frontier, start = [], 0
    reader = TreeReader(conn)
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            frontier.append(_Complete(level, reader.subtrees(start, start + (1 << level))))
            start += 1 << level
    return frontier


def _append(
    conn: Connection, size: int, hashes: Sequence[bytes], events: Sequence[Notification]
) -> None:
    frontier = _frontier(conn, size)
    leaves, nodes = [], []
    for index, (leaf, event) in enumerate(zip(hashes, events, strict=True), start=size):
        leaves.append({"leaf_index": index, "position": event.id, "hash": leaf.hex()})
        current = _Complete(0, leaf)
        while frontier and frontier[-1].level == current.level:
            left = frontier.pop()
            current = _Complete(current.level + 1, node_hash(left.hash, current.hash))
            nodes.append(
                {
                    "level": current.level,
                    "node_index": index >> current.level,
                    "hash": current.hash.hex(),
                }
            )
        frontier.append(current)
    _insert(conn, log_leaves, leaves)
    if nodes:
        _insert(conn, log_nodes, nodes)


def _insert(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """Many rows in one statement: on PostgreSQL as arrays (a statement per row would
    cost a round trip each, most of a checkpoint's CPU), on SQLite the driver's own
    executemany, which is one prepared statement stepped in C."""
    names = list(rows[0])
    if conn.dialect.name == "postgresql":
        kinds = {"hash": "text[]", "level": "int[]"}
        arrays = ", ".join(f"%({n})s::{kinds.get(n, 'bigint[]')}" for n in names)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})",  # noqa: S608 - our own names
            # Array literals written here: numbers and hex need no quoting, and the
            # driver's list dumper would cost more than the rest of the checkpoint.
            {n: "{" + ",".join(str(row[n]) for row in rows) + "}" for n in names},
        )
    else:
        conn.execute(insert(table), rows)


def roots_from_log(log: JobLog, sizes: Iterable[int], batch: int = 5000) -> dict[int, bytes]:
    """The root of the tree of the log's first ``size`` events, for each size, recomputed
    from the events themselves in one pass (the stored tree is not consulted)."""
    wanted, roots = set(sizes), {}
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    frontier: list[_Complete] = []
    last = max(wanted, default=0)
    for size, event in enumerate(log.stored(0, batch), start=1):
        if size > last:
            break
        current = _Complete(0, leaf_hash(stored_entry(event.id, event)))
        while frontier and frontier[-1].level == current.level:
            current = _Complete(current.level + 1, node_hash(frontier.pop().hash, current.hash))
        frontier.append(current)
        if size in wanted:
            root = frontier[-1].hash
            for left in reversed(frontier[:-1]):
                root = node_hash(left.hash, root)
            roots[size] = root
    return roots

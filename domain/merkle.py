"""The Merkle tree of RFC 9162 section 2.1 (Certificate Transparency 2.0) over the event log.

Pure arithmetic on 32-byte SHA-256 hashes; the log's storage, checkpoints and signatures
build on it (issue 27). The byte layouts and the verification steps are written out for
auditors in docs/merkle.md.

Generation asks a ``Subtrees`` for the hashes it needs: over the stored tree each is read
(O(log n), infrastructure.log_tree); the tests' reference (tests/merkle_reference.py)
computes each over a list of leaf hashes. Verification follows RFC 9162 2.1.3.2 and 2.1.4.2
step by step and answers ``False``, never an exception, for any malformed input: a proof
is evidence handed over by someone else, so a bad one is a failed check, not a crash.
"""

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) of RFC 9162 2.1.1: the hash of the empty string."""
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

Subtrees = Callable[[int, int], bytes]
"""MTH(D[lo:hi]) for ``0 <= lo < hi <= size`` of one tree: where proofs get their hashes."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the prefix keeps a leaf from passing for a node."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def inclusion_path(subtree: Subtrees, size: int, index: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 2.1.3.1: the leaf's sibling first, the root's
    child last."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")
    siblings, lo, hi = [], 0, size
    while hi - lo > 1:
        mid = lo + split_point(hi - lo)
        if index < mid:
            siblings.append(subtree(mid, hi))
            hi = mid
        else:
            siblings.append(subtree(lo, mid))
            lo = mid
    siblings.reverse()  # found root first, listed leaf first
    return siblings


def consistency_path(subtree: Subtrees, size: int, old_size: int) -> list[bytes]:
    """PROOF(old_size, D[size]) of RFC 9162 2.1.4.1 that the tree of the first
    ``old_size`` leaves is a prefix of this one. Empty when there is nothing to prove
    (an empty old tree, or the same size)."""
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is not within a tree of {size} leaves")
    if old_size in (0, size):
        return []
    # SUBPROOF(m, D[lo:hi], whole), unrolled: each step keeps the side holding the old
    # tree's edge and records the other; `whole` says the old tree is a complete subtree
    # of what remains, in which case the verifier knows its hash already.
    proof, lo, hi, m, whole = [], 0, size, old_size, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(subtree(lo, hi))
    proof.reverse()  # found from the root down, listed from the bottom up
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose root is ``root`` (RFC 9162 2.1.3.2)."""
    if not (_is_hash(leaf) and _is_hash(root) and _is_proof(proof)):
        return False
    if not (_is_count(index) and _is_count(size) and index < size):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False  # the path is longer than the tree is deep
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:  # skip the levels where this edge has no sibling
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``old_size`` leaves with root ``old_root`` to be
    a prefix of the tree of ``new_size`` leaves with root ``new_root`` (RFC 9162 2.1.4.2).
    The RFC defines proofs for 0 < old_size < new_size; the edges are the evident ones:
    the empty tree (root ``EMPTY_ROOT``) is a prefix of every tree, and a tree of the same
    size is consistent only if it is the same tree. Both take an empty proof."""
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_proof(proof)):
        return False
    if not (_is_count(old_size) and _is_count(new_size) and old_size <= new_size):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a complete subtree: its hash is the old root
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where MTH splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_proof(value: object) -> bool:
    return isinstance(value, Sequence) and all(_is_hash(h) for h in value)

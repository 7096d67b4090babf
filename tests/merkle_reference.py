"""The tree of RFC 9162 2.1 over a plain list of leaf hashes: every subtree computed
(O(n) per proof), the reference the stored tree (infrastructure.log_tree) is held to."""

from collections.abc import Sequence

from domain.merkle import (
    EMPTY_ROOT,
    Subtrees,
    consistency_path,
    inclusion_path,
    node_hash,
    split_point,
)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the tree whose leaf hashes are ``leaves``, in log order."""
    return _subtree(leaves, 0, len(leaves)) if leaves else EMPTY_ROOT


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) over a list of leaf hashes (see ``inclusion_path``)."""
    return inclusion_path(_over(leaves), len(leaves), index)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) over a list of leaf hashes (see ``consistency_path``)."""
    return consistency_path(_over(leaves), len(leaves), old_size)


def _subtree(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for lo < hi, on indices rather than slices so a proof copies nothing."""
    if hi - lo == 1:
        return leaves[lo]
    mid = lo + split_point(hi - lo)
    return node_hash(_subtree(leaves, lo, mid), _subtree(leaves, mid, hi))


def _over(leaves: Sequence[bytes]) -> Subtrees:
    return lambda lo, hi: _subtree(leaves, lo, hi)

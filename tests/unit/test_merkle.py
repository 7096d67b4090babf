"""The Merkle tree of RFC 9162 section 2.1 (issue 27): the roots of small trees worked out
by hand, the reference vectors of Certificate Transparency's own tests, and every proof
of every small tree verifying, and failing once anything in it is wrong."""

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.merkle import EMPTY_ROOT, leaf_hash, node_hash, verify_consistency, verify_inclusion
from tests.merkle_reference import consistency_proof, inclusion_proof, root_hash


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


LEAVES = [leaf_hash(bytes([i])) for i in range(48)]
"""Distinct leaf hashes: a tree of n leaves is LEAVES[:n]."""
STRANGER = leaf_hash(b"no leaf of any tree here")
a, b, c, d, e, f, g = LEAVES[:7]


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def test_a_leaf_and_a_node_are_hashed_with_their_own_prefix_byte() -> None:
    assert leaf_hash(b"event") == sha256(b"\x00event")
    assert node_hash(a, b) == sha256(b"\x01" + a + b)
    assert leaf_hash(a + b) != node_hash(a, b)


@pytest.mark.parametrize(
    ("size", "root"),
    [
        (0, sha256(b"")),
        (1, a),
        (2, node(a, b)),
        (3, node(node(a, b), c)),
        (7, node(node(node(a, b), node(c, d)), node(node(e, f), g))),
    ],
)
def test_the_root_of_a_small_tree_splits_at_the_largest_power_of_two_below_its_size(
    size: int, root: bytes
) -> None:
    assert root_hash(LEAVES[:size]) == root


def test_the_paths_of_a_seven_leaf_tree_list_the_leafs_sibling_first() -> None:
    assert inclusion_proof(LEAVES[:7], 0) == [b, node(c, d), node(node(e, f), g)]
    assert inclusion_proof(LEAVES[:7], 5) == [e, g, node(node(a, b), node(c, d))]
    assert inclusion_proof(LEAVES[:7], 6) == [node(e, f), node(node(a, b), node(c, d))]
    assert inclusion_proof(LEAVES[:1], 0) == []


def test_the_consistency_proofs_of_a_seven_leaf_tree() -> None:
    assert consistency_proof(LEAVES[:7], 3) == [c, d, node(a, b), node(node(e, f), g)]
    assert consistency_proof(LEAVES[:7], 4) == [node(node(e, f), g)]
    assert consistency_proof(LEAVES[:7], 6) == [node(e, f), g, node(node(a, b), node(c, d))]
    assert consistency_proof(LEAVES[:7], 0) == consistency_proof(LEAVES[:7], 7) == []


CT_LEAVES = [
    leaf_hash(bytes.fromhex(h))
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
"""The leaves of certificate-transparency's merkle_tree_test (RFC 6962's reference code),
which publishes the roots and proofs below; agreeing with them shows the tree is the CT one."""
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_CONSISTENCY = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def test_the_roots_and_proofs_agree_with_certificate_transparencys_reference_vectors() -> None:
    assert root_hash([]).hex() == EMPTY_ROOT.hex() == sha256(b"").hex()
    assert [root_hash(CT_LEAVES[:n]).hex() for n in range(1, 9)] == CT_ROOTS
    for (m, n), proof in CT_CONSISTENCY.items():
        assert [h.hex() for h in consistency_proof(CT_LEAVES[:n], m)] == proof
    assert [h.hex() for h in inclusion_proof(CT_LEAVES, 0)] == CT_CONSISTENCY[1, 8]


def mth(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1 as written, on slices: the reference the module is held to."""
    if len(hashes) <= 1:
        return hashes[0] if hashes else sha256(b"")
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node(mth(hashes[:k]), mth(hashes[k:]))


def test_every_tree_up_to_forty_leaves_has_the_root_the_rfcs_definition_gives() -> None:
    assert all(root_hash(LEAVES[:n]) == mth(LEAVES[:n]) for n in range(41))


SIZES = range(1, 34)
"""Every shape up to a complete tree of 32 and one past it."""


def test_every_inclusion_proof_of_every_small_tree_verifies() -> None:
    for size in SIZES:
        leaves, root = LEAVES[:size], root_hash(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(leaves, index)
            assert verify_inclusion(leaves[index], index, size, proof, root), (index, size)


def test_every_consistency_proof_between_two_sizes_of_a_small_tree_verifies() -> None:
    for new in SIZES:
        leaves = LEAVES[:new]
        for old in range(new + 1):
            proof = consistency_proof(leaves, old)
            assert verify_consistency(old, new, mth(leaves[:old]), mth(leaves), proof), (old, new)


def altered(hash_: bytes) -> bytes:
    return bytes([hash_[0] ^ 1]) + hash_[1:]


def tamperings(proof: list[bytes]) -> list[list[bytes]]:
    """Each hash altered in turn, the last one dropped, a hash appended or put in front,
    two hashes swapped: every one must fail."""
    changed = [[*proof[:i], altered(h), *proof[i + 1 :]] for i, h in enumerate(proof)]
    edits = [[*proof, STRANGER], [STRANGER, *proof], proof[:-1] if proof else [STRANGER]]
    swapped = [[proof[1], proof[0], *proof[2:]]] if len(proof) > 1 else []
    return changed + edits + swapped


trees = st.integers(min_value=1, max_value=40).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(min_value=0, max_value=size - 1))
)


@given(trees, st.integers(min_value=-2, max_value=50))
def test_an_inclusion_proof_fails_for_another_leaf_index_root_or_path(
    tree: tuple[int, int], other: int
) -> None:
    size, index = tree
    leaves, root = LEAVES[:size], root_hash(LEAVES[:size])
    proof = inclusion_proof(leaves, index)

    def holds(leaf: bytes = leaves[index], at: int = index, path: list[bytes] = proof) -> bool:
        return verify_inclusion(leaf, at, size, path, root)

    assert holds()
    assert not holds(leaf=altered(leaves[index]))
    if size > 1:
        assert not holds(leaf=leaves[(index + 1) % size])
    assert other == index or not holds(at=other)
    assert not verify_inclusion(leaves[index], index, size, proof, altered(root))
    assert not verify_inclusion(
        leaves[index], index, size + 1, proof, root_hash(LEAVES[: size + 1])
    )
    for path in tamperings(proof):
        assert not holds(path=path), path


pairs = st.integers(min_value=1, max_value=40).flatmap(
    lambda new: st.tuples(st.integers(min_value=0, max_value=new), st.just(new))
)


@given(pairs)
def test_a_consistency_proof_fails_once_either_root_or_the_proof_is_altered(
    sizes: tuple[int, int],
) -> None:
    old, new = sizes
    old_root, new_root = root_hash(LEAVES[:old]), root_hash(LEAVES[:new])
    proof = consistency_proof(LEAVES[:new], old)
    holds = verify_consistency

    assert holds(old, new, old_root, new_root, proof)
    assert not holds(old, new, altered(old_root), new_root, proof)
    if old > 0:  # the empty tree is a prefix of any tree: nothing binds the new root
        assert not holds(old, new, old_root, altered(new_root), proof)
    for tampered in tamperings(proof):
        assert not holds(old, new, old_root, new_root, tampered), tampered
    if 0 < old < new:  # the sizes are bound too: the same proof for another pair fails
        assert not holds(old, new + 1, old_root, root_hash(LEAVES[: new + 1]), proof)
        assert not holds(old - 1, new, root_hash(LEAVES[: old - 1]), new_root, proof)


def test_a_proof_does_not_pass_for_a_larger_tree_under_the_same_root() -> None:
    """The verifier checks that the proof reaches the root of a tree of the size claimed
    (its ``sn`` comes down to 0): the hashes alone would fit a larger tree as well."""
    four = root_hash(LEAVES[:4])
    assert verify_inclusion(a, 0, 4, inclusion_proof(LEAVES[:4], 0), four)
    assert not verify_inclusion(a, 0, 5, inclusion_proof(LEAVES[:4], 0), four)
    proof = consistency_proof(LEAVES[:4], 2)
    assert verify_consistency(2, 4, node(a, b), four, proof)
    assert not verify_consistency(2, 5, node(a, b), four, proof)


def test_a_rewritten_history_is_not_consistent_with_the_tree_it_replaced() -> None:
    rewritten = [*LEAVES[:2], leaf_hash(b"edited"), *LEAVES[3:20]]
    proof = consistency_proof(rewritten, 10)
    assert not verify_consistency(10, 20, root_hash(LEAVES[:10]), root_hash(rewritten), proof)


hashes = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))
junk = st.one_of(st.none(), st.integers(), st.text(max_size=3), hashes, st.lists(hashes))


@given(hashes, junk, junk, st.one_of(junk, st.lists(hashes, max_size=80)), hashes)
def test_verifying_an_inclusion_proof_of_any_shape_answers_true_or_false(
    leaf: bytes, index: object, size: object, proof: object, root: bytes
) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) in (True, False)  # type: ignore[arg-type]


@given(junk, junk, hashes, hashes, st.one_of(junk, st.lists(hashes, max_size=80)))
def test_verifying_a_consistency_proof_of_any_shape_answers_true_or_false(
    old: object, new: object, old_root: bytes, new_root: bytes, proof: object
) -> None:
    answer = verify_consistency(old, new, old_root, new_root, proof)  # type: ignore[arg-type]
    assert answer in (True, False)


def test_malformed_proofs_and_sizes_fail() -> None:
    root, proof = root_hash(LEAVES[:5]), inclusion_proof(LEAVES[:5], 2)
    assert not verify_inclusion(c, 2, 5, [*proof[:-1], proof[-1][:31]], root)
    assert not verify_inclusion(c, -1, 5, proof, root)
    assert not verify_inclusion(c, 5, 5, proof, root)
    assert not verify_inclusion(c, 2, 5, proof, root[:31])
    assert not verify_consistency(5, 3, root, root_hash(LEAVES[:3]), [])
    assert not verify_consistency(3, 5, root_hash(LEAVES[:3]), root, [])
    assert not verify_consistency(0, 5, altered(EMPTY_ROOT), root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [a])


def test_a_proof_for_a_leaf_or_size_outside_the_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="leaf index 3 is not in a tree of 3 leaves"):
        inclusion_proof(LEAVES[:3], 3)
    with pytest.raises(ValueError, match="old size 4 is not within a tree of 3 leaves"):
        consistency_proof(LEAVES[:3], 4)

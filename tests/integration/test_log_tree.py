"""The stored Merkle tree is the RFC 9162 tree of the log, at every size, whoever
extends it, and its checkpoints prove each other consistent."""

import math
import threading
from pathlib import Path

from api.composition import Services
from domain.merkle import (
    consistency_path,
    inclusion_path,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from infrastructure.chain import stored_entry
from infrastructure.log_tree import LogTree, roots_from_log
from tests.certificates import new_key
from tests.merkle_reference import root_hash
from tests.scheduling import SchedulingCommands


def schedule(services: Services, count: int, prefix: str) -> None:
    for n in range(count):
        SchedulingCommands.of(services).schedule_user_deletion(
            1, f"{prefix}-{n}@example.com", "key:k"
        )


def leaves_of_the_log(services: Services) -> list[bytes]:
    """Computed here from the stored events, not by the tree."""
    return [leaf_hash(stored_entry(event.id, event)) for event in services.log.stored()]


def test_the_stored_tree_has_the_root_of_the_log_at_every_size(services: Services) -> None:
    stored = LogTree(services.database, services.log)
    for step, count in enumerate((1, 2, 5, 8)):  # the tree is extended four times
        schedule(services, count, f"step{step}")
        stored.extend()
    leaves = leaves_of_the_log(services)
    assert stored.size() == len(leaves) == services.log.head()

    with stored.reading() as tree:
        for size in range(len(leaves) + 1):
            assert tree.root(size) == root_hash(leaves[:size])
    assert roots_from_log(services.log, range(len(leaves) + 1)) == {
        size: root_hash(leaves[:size]) for size in range(len(leaves) + 1)
    }


def test_every_event_has_an_inclusion_proof_of_logarithmic_length(services: Services) -> None:
    schedule(services, 20, "user")
    stored = LogTree(services.database, services.log)
    size = stored.extend()
    leaves = leaves_of_the_log(services)

    with stored.reading() as tree:
        root = tree.root(size)
        for index, leaf in enumerate(leaves):
            proof = inclusion_path(tree.subtrees, size, index)
            assert len(proof) <= math.ceil(math.log2(size))
            assert verify_inclusion(leaf, index, size, proof, root)
            assert not verify_inclusion(leaf, (index + 1) % size, size, proof, root)


def test_consistency_proofs_hold_between_every_pair_of_a_series_of_checkpoints(
    services: Services, tmp_path: Path
) -> None:
    key = new_key(tmp_path)
    signed = []
    for step, count in enumerate((0, 1, 1, 3, 4, 7, 16)):
        schedule(services, count, f"step{step}")
        checkpoint = services.checkpoints.sign(key)
        assert checkpoint is not None
        signed.append(checkpoint.checkpoint)
    assert [c.size for c in signed] == [0, 3, 6, 15, 27, 48, 96]  # three events a job

    with LogTree(services.database, services.log).reading() as tree:
        for old in signed:
            for new in signed:
                if old.size > new.size:
                    continue
                proof = consistency_path(tree.subtrees, new.size, old.size)
                assert verify_consistency(old.size, new.size, old.root, new.root, proof)
                if old.size not in (0, new.size):
                    forged = bytes(32)
                    assert not verify_consistency(old.size, new.size, forged, new.root, proof)


def test_a_checkpoint_is_written_on_schedule_only_when_the_log_grew(
    services: Services, tmp_path: Path
) -> None:
    key = new_key(tmp_path)
    schedule(services, 2, "user")
    assert services.checkpoints.sign(key, only_if_grown=True) is not None
    assert services.checkpoints.sign(key, only_if_grown=True) is None
    assert services.checkpoints.sign(key) is not None  # asked for: dates the log as it is
    schedule(services, 1, "later")
    assert services.checkpoints.sign(key, only_if_grown=True) is not None
    assert [c.size for c in services.checkpoints.all()] == [6, 6, 9]


def test_extenders_racing_in_several_threads_build_one_tree(services: Services) -> None:
    schedule(services, 30, "user")
    trees = [LogTree(services.database, services.log, batch=7) for _ in range(4)]
    threads = [threading.Thread(target=tree.extend) for tree in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    leaves = leaves_of_the_log(services)
    with LogTree(services.database, services.log).reading() as tree:
        assert tree.size() == len(leaves)
        assert tree.root(len(leaves)) == root_hash(leaves)

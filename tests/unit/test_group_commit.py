"""Group commit: concurrent requests are processed together, each gets its own answer."""

import threading
from collections.abc import Sequence

import pytest

from infrastructure.group_commit import GroupCommit


def test_a_lone_request_is_processed_at_once() -> None:
    batches: list[list[int]] = []

    def process(requests: Sequence[int]) -> list[int | BaseException]:
        batches.append(list(requests))
        return [r * 2 for r in requests]

    assert GroupCommit(process).submit(21) == 42
    assert batches == [[21]]


def test_concurrent_requests_share_batches_and_each_gets_its_own_result() -> None:
    release = threading.Event()
    batches: list[list[int]] = []

    def process(requests: Sequence[int]) -> list[int | BaseException]:
        release.wait(5)  # the first batch blocks until everyone has queued
        batches.append(list(requests))
        return [-r if r % 7 else ValueError(str(r)) for r in requests]

    group_commit: GroupCommit[int, int] = GroupCommit(process)
    results: dict[int, object] = {}

    def call(n: int) -> None:
        try:
            results[n] = group_commit.submit(n)
        except ValueError as error:
            results[n] = error

    threads = [threading.Thread(target=call, args=(n,)) for n in range(1, 41)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert sorted(r for batch in batches for r in batch) == list(range(1, 41))
    assert len(batches) < 40  # shared
    for n in range(1, 41):
        if n % 7:
            assert results[n] == -n
        else:
            assert isinstance(results[n], ValueError)


def test_a_batch_that_fails_as_a_whole_fails_each_request() -> None:
    def process(requests: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        GroupCommit(process).submit(1)

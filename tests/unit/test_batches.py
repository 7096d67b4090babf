"""Group commit on the event loop: concurrent requests are decided together, each
gets its own answer, and a caller that stops waiting leaves the batch alone."""

import asyncio
from collections.abc import Sequence

import pytest

from infrastructure.async_reads import Overloaded
from infrastructure.batches import Batches


def test_a_lone_request_is_a_batch_of_one() -> None:
    batches: list[list[int]] = []

    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        batches.append(list(requests))
        return [r * 2 for r in requests]

    async def scenario() -> int:
        return await Batches(decide).submit(21)

    assert asyncio.run(scenario()) == 42
    assert batches == [[21]]


def test_requests_arriving_during_a_batch_make_the_next_one_and_each_gets_its_answer() -> None:
    batches: list[list[int]] = []
    first_batch_started = asyncio.Event()
    release = asyncio.Event()

    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        batches.append(list(requests))
        first_batch_started.set()
        await release.wait()
        return [-r if r % 7 else ValueError(str(r)) for r in requests]

    async def scenario() -> list[int | BaseException]:
        together: Batches[int, int] = Batches(decide)
        first = asyncio.ensure_future(together.submit(1))
        await first_batch_started.wait()
        rest = [asyncio.ensure_future(together.submit(n)) for n in range(2, 41)]
        await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert batches == [[1], list(range(2, 41))]
    for n, answer in enumerate(answers, start=1):
        if n % 7:
            assert answer == -n
        else:
            assert isinstance(answer, ValueError) and str(answer) == str(n)


def test_a_batch_that_fails_as_a_whole_fails_each_request() -> None:
    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        raise RuntimeError("database down")

    async def scenario() -> None:
        together: Batches[int, int] = Batches(decide)
        await asyncio.gather(together.submit(1), together.submit(2))

    with pytest.raises(RuntimeError, match="database down"):
        asyncio.run(scenario())


def test_a_caller_that_stops_waiting_leaves_its_batch_to_be_decided() -> None:
    decided: list[int] = []

    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        await asyncio.sleep(0.05)
        decided.extend(requests)
        return list(requests)

    async def scenario() -> int:
        together: Batches[int, int] = Batches(decide)
        impatient = asyncio.ensure_future(together.submit(1))
        patient = asyncio.ensure_future(together.submit(2))
        await asyncio.sleep(0.01)
        impatient.cancel()
        return await patient

    assert asyncio.run(scenario()) == 2
    assert decided == [1, 2]


def test_two_batches_in_flight_never_decide_for_the_same_key() -> None:
    under_way: list[set[str]] = []
    overlapped: list[bool] = []
    most: list[int] = []

    async def decide(requests: Sequence[str]) -> list[str | Exception]:
        keys = set(requests)
        overlapped.append(any(keys & other for other in under_way))
        under_way.append(keys)
        most.append(len(under_way))
        await asyncio.sleep(0.01)
        under_way.remove(keys)
        return [request.upper() for request in requests]

    async def scenario() -> list[str]:
        together: Batches[str, str] = Batches(decide, key=lambda r: r, in_flight=2)
        asked = ["ann", "bob", "ann", "cy", "bob", "ann", "dee"]
        answers = []
        for name in asked:  # arriving one after another, while batches are under way
            answers.append(asyncio.ensure_future(together.submit(name)))
            await asyncio.sleep(0.003)
        return await asyncio.gather(*answers)

    assert asyncio.run(scenario()) == ["ANN", "BOB", "ANN", "CY", "BOB", "ANN", "DEE"]
    assert len(overlapped) >= 3 and not any(overlapped)
    assert max(most) == 2  # two were under way at once


def test_a_request_whose_caller_stopped_waiting_is_left_out_of_the_next_batch() -> None:
    batches: list[list[int]] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def decide(requests: Sequence[int]) -> list[int | Exception]:
            batches.append(list(requests))
            await release.wait()  # the first batch stays under way until released
            return list(requests)

        together: Batches[int, int] = Batches(decide)
        first = asyncio.ensure_future(together.submit(1))
        await asyncio.sleep(0)  # the first batch is under way
        gone = asyncio.ensure_future(together.submit(2))
        kept = asyncio.ensure_future(together.submit(3))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        release.set()
        assert await first == 1 and await kept == 3

    asyncio.run(scenario())
    assert batches == [[1], [3]]


def test_past_the_queue_it_holds_a_request_is_refused_at_once() -> None:
    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        await asyncio.sleep(0.05)
        return list(requests)

    async def scenario() -> None:
        together: Batches[int, int] = Batches(decide, max_waiting=3)
        waiting = [asyncio.ensure_future(together.submit(1))]
        await asyncio.sleep(0.001)  # 1 is being decided
        waiting += [asyncio.ensure_future(together.submit(n)) for n in range(2, 5)]
        await asyncio.sleep(0.001)  # 2, 3 and 4 wait for it
        with pytest.raises(Overloaded):
            await together.submit(5)
        assert await asyncio.gather(*waiting) == [1, 2, 3, 4]

    asyncio.run(scenario())


def test_requests_made_in_the_same_turn_of_the_loop_share_one_batch() -> None:
    batches: list[list[int]] = []

    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        batches.append(list(requests))
        return list(requests)

    async def scenario() -> list[int]:
        together: Batches[int, int] = Batches(decide, in_flight=2)
        return await asyncio.gather(*(together.submit(n) for n in range(1, 9)))

    assert asyncio.run(scenario()) == list(range(1, 9))
    assert batches == [list(range(1, 9))]


def test_beside_a_batch_under_way_the_next_waits_for_half_as_many_requests_or_its_end() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        batches.append(list(requests))
        if requests[0] == 1:
            await release.wait()  # the first batch stays under way until released
        return list(requests)

    async def scenario() -> None:
        together: Batches[int, int] = Batches(decide, in_flight=2)
        first = [asyncio.ensure_future(together.submit(n)) for n in range(1, 9)]
        await asyncio.sleep(0.001)  # 1..8 are being decided
        alone = asyncio.ensure_future(together.submit(9))
        await asyncio.sleep(0.001)
        assert batches == [list(range(1, 9))]  # 9 alone does not start a batch beside it
        more = [asyncio.ensure_future(together.submit(n)) for n in range(10, 13)]
        await asyncio.sleep(0.001)
        assert batches == [list(range(1, 9)), [9, 10, 11, 12]]  # four: half of eight
        late = asyncio.ensure_future(together.submit(13))
        await asyncio.sleep(0.001)
        release.set()
        await asyncio.gather(*first, alone, *more, late)

    asyncio.run(scenario())
    assert batches == [list(range(1, 9)), [9, 10, 11, 12], [13]]  # 13 went when one ended


def test_requests_whose_callers_stopped_waiting_leave_the_queue_and_count_no_more() -> None:
    release = asyncio.Event()

    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        await release.wait()  # the first batch stays under way until released
        return list(requests)

    async def scenario() -> None:
        together: Batches[int, int] = Batches(decide, max_waiting=3)
        first = asyncio.ensure_future(together.submit(1))
        await asyncio.sleep(0.001)  # 1 is being decided
        abandoned = [asyncio.ensure_future(together.submit(n)) for n in range(2, 5)]
        await asyncio.sleep(0.001)
        for caller in abandoned:
            caller.cancel()  # their deadlines passed while the batch was under way
        await asyncio.sleep(0)
        kept = asyncio.ensure_future(together.submit(5))  # not refused: nobody waits
        await asyncio.sleep(0.001)
        release.set()
        assert await first == 1 and await kept == 5

    asyncio.run(scenario())


def test_a_batch_answered_with_the_wrong_number_of_answers_fails_each_request() -> None:
    async def decide(requests: Sequence[int]) -> list[int | Exception]:
        return [0]

    async def scenario() -> list[int | BaseException]:
        together: Batches[int, int] = Batches(decide)
        return list(
            await asyncio.gather(together.submit(1), together.submit(2), return_exceptions=True)
        )

    answers = asyncio.run(scenario())
    assert all(isinstance(answer, RuntimeError) for answer in answers)

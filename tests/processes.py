"""Running one function in several fresh processes at once, as separate clients would."""

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


def run_in_processes(
    target: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float
) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=each) for each in args]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=timeout)
        assert process.exitcode == 0

"""Running one function in several fresh processes at once, as separate clients would."""

import multiprocessing
import time
from collections.abc import Callable, Sequence
from typing import Any


def run_in_processes(
    target: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float
) -> None:
    """Runs ``target`` once per argument tuple, all at once; every process must end
    well within ``timeout`` seconds in all (the test's own timeout must be longer)."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=each) for each in args]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    try:
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            assert process.exitcode == 0, f"exit code {process.exitcode} (None: still running)"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()

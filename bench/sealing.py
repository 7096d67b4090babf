"""Figure 8: what sealing personal data costs scheduling (issue 13).

The same in-process scheduling load (16 threads, each request decided alone,
new users only) twice on the same database kind: once as shipped, once with
sealing switched off for the benchmark only (the fields stored in the clear, no
data keys made). Rounds alternate, and each side keeps its best round.
"""

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

from eventsourcing.application import Application

from api.composition import Services
from bench.databases import database, schedule_alone, services_on
from bench.harness import Figure
from infrastructure.event_store import SealedJobLog
from infrastructure.mapper import MsgspecMapper

ROUNDS = 3
THREADS = 16


@contextmanager
def sealing_switched_off() -> Iterator[None]:
    """The mapper stores personal fields as they are, and no key is made."""

    def leave_in_the_clear(self: Any, state: Any, personal: Any, originator_id: Any) -> None:
        return None

    with (
        mock.patch.object(MsgspecMapper, "_seal", leave_in_the_clear),
        mock.patch.object(SealedJobLog, "_record", Application._record),
    ):
        yield


def schedules_per_second(backend: str, workdir: Path, seconds: float, sealed: bool) -> float:
    switch = nullcontext() if sealed else sealing_switched_off()
    with (
        database(backend, workdir, f"sealing-{uuid.uuid4().hex[:8]}") as url,
        services_on(url) as services,
        switch,
    ):
        started = time.perf_counter()
        return schedule_new_users(services, seconds) / (time.perf_counter() - started)


def schedule_new_users(services: Services, seconds: float) -> int:
    """THREADS threads schedule new users, one request at a time, for ``seconds``;
    how many jobs they scheduled."""
    counts = [0] * THREADS
    deadline = time.perf_counter() + seconds

    def schedule(slot: int) -> None:
        while time.perf_counter() < deadline:
            user = f"user-{slot}-{counts[slot]}@example.com"
            schedule_alone(services, 1, user)
            counts[slot] += 1

    threads = [threading.Thread(target=schedule, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def sealing(backend: str, workdir: Path, seconds: float) -> list[Figure]:
    best = {True: 0.0, False: 0.0}
    for _ in range(ROUNDS if seconds >= 1 else 1):  # the smoke run only shows it runs
        for sealed in (False, True):
            rate = schedules_per_second(backend, workdir, seconds, sealed)
            best[sealed] = max(best[sealed], rate)
    return [
        Figure(
            "8",
            f"scheduling with personal data sealed, {backend} (vs the same without sealing)",
            best[True],
            best[False],
            "jobs/s",
            ">= 0.9",
            best[True] / best[False] >= 0.9,
        )
    ]

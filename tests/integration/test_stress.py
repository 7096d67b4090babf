"""Cancels, starts, completions and duplicate deletion requests fired at the same
jobs at once: threads on SQLite, processes on PostgreSQL. Bounded; --soak for more."""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from api.composition import Services, build_services
from application.errors import ApplicationError
from domain.errors import DomainError
from infrastructure.settings import Settings
from tests.conftest import require_postgres
from tests.invariants import check_log
from tests.processes import run_in_processes
from tests.scheduling import SchedulingCommands

USERS = [f"contested-{n}@example.com" for n in range(6)]
FAR = datetime(2999, 1, 1, tzinfo=UTC)


def hammer(services: Services, actor: str, rounds: int, seed: int) -> int:
    """Random commands on a few users' jobs; returns how many succeeded."""
    rng = random.Random(seed)
    commands = SchedulingCommands.of(services)
    known: list[int] = []
    done = 0
    for _ in range(rounds):
        choice = rng.random()
        try:
            if choice < 0.35 or not known:
                known.append(
                    commands.schedule_user_deletion(1, rng.choice(USERS), actor).job.job_id
                )
            elif choice < 0.55:
                commands.cancel(1, rng.choice(known), actor)
            elif choice < 0.8:
                commands.start(rng.choice(known), actor, FAR)
            else:
                commands.complete(rng.choice(known), actor, 1)
            done += 1
        except (DomainError, ApplicationError):
            pass
    return done


def settle(services: Services) -> None:
    """Ends every job still active, so that each has exactly one terminal event."""
    services.projector.catch_up()
    for job in services.read_model.every_job():
        if job.status in ("scheduled", "running"):
            services.commands.cancel(job.project_id, job.job_id, "key:settler")


def test_threads_racing_on_the_same_jobs_leave_every_invariant_intact(
    settings: Settings, soak: int
) -> None:
    services = build_services(
        Settings(database_url=settings.database_url, deletion_delay=timedelta(0))
    )
    try:
        threads = [
            threading.Thread(target=hammer, args=(services, f"worker:{n}", 40 * soak, n))
            for n in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        settle(services)
        assert check_log(services, require_terminal=True) == []
        assert services.log.head() > 50
    finally:
        services.close()


def _process(database_url: str, worker: int, rounds: int) -> None:
    services = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    try:
        hammer(services, f"worker:p{worker}", rounds, 1000 + worker)
    finally:
        services.close()


@pytest.mark.timeout(300)  # `--soak N` wants `--timeout` too
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_processes_racing_on_the_same_jobs_leave_every_invariant_intact(
    database_url: str, soak: int
) -> None:
    require_postgres()
    build_services(Settings(database_url=database_url)).close()
    run_in_processes(_process, [(database_url, n, 50 * soak) for n in range(4)], timeout=240 * soak)
    services = build_services(Settings(database_url=database_url))
    try:
        settle(services)
        assert check_log(services, require_terminal=True) == []
    finally:
        services.close()

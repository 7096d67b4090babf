"""Racing commands on one job: one winner per version, and the log stays legal."""

import multiprocessing
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest

from api.composition import Services, build_services
from application.tenants import InvalidName
from domain.errors import DomainError
from domain.job import Job, job_aggregate_id
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.conftest import job_now, require_postgres
from tests.scheduling import SchedulingCommands

LEGAL_HISTORIES = {
    (Job.Scheduled, Job.Cancelled),
    (Job.Scheduled, Job.Started),
    (Job.Scheduled, Job.Started, Job.Cancelled),
}


def race(**commands: Callable[[], object]) -> set[str]:
    """Runs each command in its own thread, released at the same moment; names the winners."""
    barrier = threading.Barrier(len(commands))
    won: set[str] = set()

    def run(name: str, command: Callable[[], object]) -> None:
        barrier.wait()
        try:
            command()
            won.add(name)
        except DomainError:
            pass

    threads = [threading.Thread(target=run, args=item) for item in commands.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_two_threads_cancelling_and_starting_one_job_leave_a_legal_log(
    settings: Settings,
) -> None:
    services = build_services(
        Settings(database_url=settings.database_url, deletion_delay=timedelta(0))
    )
    try:
        for round_ in range(15):
            job_id = (
                SchedulingCommands.of(services)
                .schedule_user_deletion(1, f"racer-{round_}", "k")
                .job.job_id
            )
            won = race(
                cancel=partial(services.commands.cancel, 1, job_id, "key:k"),
                start=partial(services.commands.start, job_id, "worker:w"),
            )
            history = tuple(type(e) for e in services.log.events.get(job_aggregate_id(job_id)))
            assert history in LEGAL_HISTORIES
            # Every command that returned success left its event; none was lost.
            assert ("cancel" in won) == (Job.Cancelled in history)
            assert ("start" in won) == (Job.Started in history)
            services.projector.catch_up()
            aggregate = services.log.job(job_id)
            assert aggregate is not None
            assert job_now(services, 1, job_id).status == aggregate.status
    finally:
        services.close()


def _allocate(database_url: str, count: int, results: "multiprocessing.Queue[list[int]]") -> None:
    services = build_services(Settings(database_url=database_url))
    try:
        allocator = SqlJobIdAllocator(services.database)
        results.put([allocator.next_job_ids(1)[0] for _ in range(count)])
    finally:
        services.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_job_ids_from_several_processes_are_unique_and_increase_in_each(database_url: str) -> None:
    require_postgres()
    build_services(Settings(database_url=database_url)).close()
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[list[int]] = context.Queue()
    processes = [
        context.Process(target=_allocate, args=(database_url, 100, results)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    batches = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    every_id = [job_id for batch in batches for job_id in batch]
    assert len(set(every_id)) == 300
    assert min(every_id) >= 1
    for batch in batches:
        assert batch == sorted(batch)


def test_organizations_made_at_once_under_one_name_make_one(services: Services) -> None:
    barrier = threading.Barrier(6)
    made: list[int] = []
    refused: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            made.append(services.tenancy.create_organization("racing").id)
        except InvalidName as error:
            refused.append(str(error))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(refused) == 5
    assert [o.name for o in services.tenancy.organizations()].count("racing") == 1

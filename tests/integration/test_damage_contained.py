"""One damaged record stops nobody else's work (ADR 17): forgetting forgets every other
due user and names the damaged job, a job's history shows what can be read and names
the rest, and a rebuild marks the damaged job and goes on, for each way a stored row
can be damaged."""

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from api.composition import Services, build_services
from application.audit import UNKNOWN_STATUS, DamagedEntry, TimelineEntry
from application.errors import DamagedRecord, JobNotFound
from application.forgetting import Forgetting
from application.proof import prove
from domain.job import job_aggregate_id
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from domain.user_deletions import user_deletions_id
from infrastructure.rebuild import Rebuild
from infrastructure.settings import Settings
from tests.clocks import SteppingClock
from tests.conftest import job_now
from tests.damaging import DAMAGES, NULL_TOPIC, Damage, damage
from tests.scheduling import SchedulingCommands
from tests.waiting import eventually

USERS = ("ann", "bob", "cy")
VICTIM = "bob"


@dataclass
class Ended:
    """Three users, each with one completed job (three events each): bob's is damaged."""

    services: Services
    project_id: int
    jobs: dict[str, int]


@pytest.fixture
def ended(settings: Settings) -> Iterator[Ended]:
    built = build_services(msgspec.structs.replace(settings, deletion_delay=timedelta(0)))
    project = built.tenancy.create_project("shop")
    jobs = {}
    for user in USERS:
        job_id = (
            SchedulingCommands.of(built)
            .schedule_user_deletion(project.id, user, "key:k")
            .job.job_id
        )
        started = built.commands.start(job_id, "worker:w")
        built.commands.complete(job_id, "worker:w", started.attempt, {"sessions": 0})
        jobs[user] = job_id
    built.projector.catch_up()
    yield Ended(built, project.id, jobs)
    built.close()


def reopened(ended: Ended) -> Services:
    """The same database in a process that has not read the jobs before (the first
    one keeps what it loaded in memory)."""
    return build_services(ended.services.settings)


def forgetting(services: Services) -> Forgetting:
    return Forgetting(
        services.log,
        services.read_model,
        services.log.vault,  # type: ignore[attr-defined]
        SteppingClock(datetime.now(UTC) + timedelta(days=40)),
        timedelta(days=30),
        after_write=lambda position: services.projector.wait_for(position, 10),
    )


def forgotten(services: Services, ended: Ended, user: str) -> bool:
    [proven] = prove(services.log, user, [ended.project_id])
    return proven.forgotten


@pytest.mark.parametrize("done", DAMAGES, ids=str)
def test_forgetting_forgets_every_other_due_user_and_names_the_damaged_job(
    ended: Ended, done: Damage
) -> None:
    victim = ended.jobs[VICTIM]
    damage(ended.services, job_aggregate_id(victim), done)
    services = reopened(ended)
    try:
        report = forgetting(services).forget_due()
        assert (report.users, report.jobs) == (2, 2)
        assert [line.split(":")[0] for line in report.damaged] == [f"job {victim}"]
        assert all("damaged" in line and VICTIM not in line for line in report.damaged)
        assert forgotten(services, ended, "ann") and forgotten(services, ended, "cy")
        again = forgetting(services).forget_due()  # and so every round, until repaired
        assert (again.users, len(again.damaged)) == (0, 1)
    finally:
        services.close()


def test_a_damaged_ledger_holds_back_its_user_only(ended: Ended) -> None:
    subject = ended.services.log.subject_of(ended.project_id, VICTIM)
    damage(ended.services, user_deletions_id(subject), Damage(NULL_TOPIC, 2))
    services = reopened(ended)
    try:
        report = forgetting(services).forget_due()
        assert (report.users, report.jobs) == (2, 2)
        assert len(report.damaged) == 1
        assert str(user_deletions_id(subject)) in report.damaged[0]
        assert forgotten(services, ended, "ann") and forgotten(services, ended, "cy")
    finally:
        services.close()


@pytest.mark.parametrize("done", DAMAGES, ids=str)
def test_a_history_shows_what_can_be_read_and_names_the_damage(ended: Ended, done: Damage) -> None:
    victim = ended.jobs[VICTIM]
    damage(ended.services, job_aggregate_id(victim), done)
    services = reopened(ended)
    try:
        timeline = services.history.readable_timeline(victim)
        [damaged] = [entry for entry in timeline if isinstance(entry, DamagedEntry)]
        assert damaged.version == done.version
        readable = [entry for entry in timeline if isinstance(entry, TimelineEntry)]
        assert {entry.event.version for entry in readable} == {1, 2, 3} - {done.version}
        after = [e.status_after for e in readable if e.event.version > done.version]
        assert after and set(after) == {UNKNOWN_STATUS}  # nobody can tell past the damage
        with pytest.raises(DamagedRecord):  # the API's reader: 409, never 500
            services.history.timeline(None, victim)
        for user in ("ann", "cy"):
            assert len(services.history.timeline(None, ended.jobs[user])) == 3
        with pytest.raises(JobNotFound):
            services.history.readable_timeline(999)
    finally:
        services.close()


@pytest.mark.parametrize("done", DAMAGES, ids=str)
def test_a_rebuild_marks_the_damaged_job_and_goes_on(ended: Ended, done: Damage) -> None:
    victim = ended.jobs[VICTIM]
    aggregate_id = job_aggregate_id(victim)
    damage(ended.services, aggregate_id, done)
    services = reopened(ended)
    try:
        result = Rebuild(services.log, services.database).run()
        assert result.position == services.log.head()
        assert {d.aggregate_id for d in services.projection_store.damage()} == {str(aggregate_id)}
        if done.version == 1:  # nobody can tell whose job it was
            with pytest.raises(JobNotFound):
                job_now(services, ended.project_id, victim)
        else:
            with pytest.raises(DamagedRecord):
                job_now(services, ended.project_id, victim)
        for user in ("ann", "cy"):
            assert (
                job_now(services, ended.project_id, ended.jobs[user]).status == JobStatus.COMPLETED
            )
    finally:
        services.close()


def test_a_running_worker_forgets_the_others_every_round_and_logs_the_damage(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    quick = msgspec.structs.replace(
        settings, deletion_delay=timedelta(0), forget_after=timedelta(0), forget_interval=0.05
    )
    built = build_services(quick)
    jobs = {}
    for user in USERS:
        jobs[user] = (
            SchedulingCommands.of(built).schedule_user_deletion(1, user, "key:k").job.job_id
        )
        built.commands.cancel(1, jobs[user], "key:k")
    damage(built, job_aggregate_id(jobs[VICTIM]), Damage(NULL_TOPIC, 2))
    built.close()
    services = build_services(quick)
    stopping = threading.Event()
    caplog.set_level(logging.ERROR, logger="jobtrail")
    thread = threading.Thread(target=services.worker(stopping).run_until_stopped, args=(0.05,))
    thread.start()
    try:
        eventually(
            lambda: caplog.text.count(f"damaged record: job {jobs[VICTIM]}:") >= 2,
            10,
            "two rounds of forgetting, each naming the damaged job",
        )
        stopping.set()
        thread.join()
        assert "forgetting failed" not in caplog.text
        for user in ("ann", "cy"):
            assert job_now(services, 1, jobs[user]).reference_id == FORGOTTEN
    finally:
        stopping.set()
        thread.join()
        services.close()

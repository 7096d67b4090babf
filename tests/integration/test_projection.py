"""The jobs projection: in order, exactly once, resumable, never skipping."""

import threading

import pytest
from eventsourcing.domain import Aggregate
from sqlalchemy import func, select

from api.composition import Services, build_services
from application.ports import ProjectionTransaction
from application.projection import FoldedBatch, JobsProjection, UnknownEvent
from application.projector import Projector
from infrastructure.projection_store import SqlProjectionStore
from infrastructure.settings import Settings
from infrastructure.tables import jobs
from tests.conftest import job_now
from tests.scheduling import SchedulingCommands


def schedule_without_projecting(services: Services, count: int, prefix: str = "u") -> list[int]:
    """Commands whose read-your-writes wait is switched off, so the log runs ahead."""
    services.commands._after_write = lambda position: None
    commands = SchedulingCommands.of(services, after_write=lambda position: None)
    return [
        commands.schedule_user_deletion(1, f"{prefix}{n}", "k").job.job_id for n in range(count)
    ]


def job_rows(services: Services) -> int:
    with services.database.reader() as conn:
        return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())


def test_the_projection_resumes_where_it_stopped_after_a_restart(settings: Settings) -> None:
    first = build_services(settings)
    schedule_without_projecting(first, 5, "a")
    # A first request for a user writes the job, and opens and assigns the user's ledger.
    assert first.projector.catch_up() == 15
    schedule_without_projecting(first, 3, "b")
    first.close()

    second = build_services(settings)
    try:
        assert second.projector.position() == 15
        assert second.projector.catch_up() == 9
        assert second.projector.position() == second.log.head()
        assert job_rows(second) == 8
    finally:
        second.close()


def test_many_threads_catching_up_at_once_apply_every_event_exactly_once(
    services: Services,
) -> None:
    ids = schedule_without_projecting(services, 40)
    for job_id in ids[::3]:
        services.commands.cancel(1, job_id, "k")
    errors: list[BaseException] = []

    def catch_up() -> None:
        try:
            services.projector.catch_up()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=catch_up) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert services.projector.position() == services.log.head()
    assert job_rows(services) == 40
    for job_id in ids:
        aggregate = services.log.job(job_id)
        assert aggregate is not None
        assert job_now(services, 1, job_id).status == aggregate.status


@pytest.mark.parametrize("sole_applier", [False, True], ids=["shared", "believed-sole"])
def test_a_projector_whose_projection_another_applier_moved_applies_nothing_twice(
    services: Services, sole_applier: bool
) -> None:
    def projector(sole_applier: bool) -> Projector:
        store = SqlProjectionStore(services.database)
        return Projector(services.log, store, JobsProjection(), 2, sole_applier=sole_applier)

    first, second = projector(sole_applier), projector(False)
    ids = schedule_without_projecting(services, 4)
    first.step()
    second.catch_up()
    services.commands.cancel(1, ids[0], "k")
    assert first.catch_up() == 1  # only the cancellation: it knew to look again
    assert first.position() == second.position() == services.log.head()
    assert job_rows(services) == 4
    assert job_now(services, 1, ids[0]).status == "cancelled"


class ExplodingProjection(JobsProjection):
    def write(self, batch: FoldedBatch, tx: ProjectionTransaction) -> None:
        super().write(batch, tx)
        raise RuntimeError("the process died after writing rows")


def test_rows_and_position_commit_together_or_not_at_all(services: Services) -> None:
    schedule_without_projecting(services, 3)
    crashing = Projector(services.log, SqlProjectionStore(services.database), ExplodingProjection())
    with pytest.raises(RuntimeError):
        crashing.step()
    assert services.projector.position() == 0
    assert job_rows(services) == 0
    services.projector.catch_up()
    assert job_rows(services) == 3


class Stranger(Aggregate):
    """An aggregate the jobs projection has never heard of."""

    class Appeared(Aggregate.Created):
        note: str

    def __init__(self, note: str) -> None:
        self.note = note


def test_an_event_the_projection_cannot_apply_stops_it_at_that_event(services: Services) -> None:
    schedule_without_projecting(services, 1)
    services.log.save(Stranger(note="not a job event"))
    with pytest.raises(UnknownEvent, match="Appeared"):
        services.projector.catch_up()
    assert services.projector.position() == 0
    assert job_rows(services) == 0


def test_a_command_response_is_already_in_the_read_model(services: Services) -> None:
    outcome = SchedulingCommands.of(services).schedule_user_deletion(1, "zoe", "k")
    assert outcome.position is not None
    assert services.projector.position() >= outcome.position
    assert job_now(services, 1, outcome.job.job_id) == outcome.job

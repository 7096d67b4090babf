"""The in-memory read model (tests/in_memory.py) answers as the SQL one does: each case
runs in memory, on SQLite and on PostgreSQL. What is held to it is what the projector
and the use cases rely on: a batch's rows and position written together or not at all,
and the answers of get, due, owing_answers and forgettable. The application tests'
fast loop runs on the in-memory one because of this."""

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from application.errors import DamagedRecord
from application.job_records import Damage, DueJob, JobRow, changed
from domain.job import job_aggregate_id
from domain.request import FORGOTTEN
from tests.application.bootstrap import BACKENDS, Adapters, adapters_on

T = 1_767_225_600_000  # 2026-01-01, in epoch ms
HOUR = 3_600_000


@pytest.fixture(params=BACKENDS)
def adapters(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapters]:
    with adapters_on(request.param, tmp_path) as built:
        yield built


def job(job_id: int, status: str = "scheduled", **columns: object) -> JobRow:
    """A row of project 1, requested at T, due to start then and be answered an hour on."""
    row = JobRow(
        job_id=job_id,
        aggregate_id=str(job_aggregate_id(job_id)),
        version=1,
        project_id=1,
        action="delete_user",
        reference_id=f"user-{job_id}",
        description="",
        status=status,
        errors=None,
        created_at=T,
        updated_at=T,
        start_at=T,
        lease_until=None,
        respond_by=T + HOUR,
    )
    return msgspec.structs.replace(row, **columns)


def written(adapters: Adapters, *rows: JobRow) -> None:
    with adapters.projection_store.transaction("jobs") as tx:
        tx.insert_jobs(rows)
        tx.advance(tx.position + len(rows))


def test_a_batch_writes_its_rows_and_its_position_together(adapters: Adapters) -> None:
    store, model = adapters.projection_store, adapters.read_model
    first, second = job(1), job(2)
    # Events change only their columns: the project and the action stay as inserted.
    after = job(2, "running", version=2, project_id=9, action="other", lease_until=T + HOUR)
    second_now = changed(second, after)
    assert store.position("jobs") == 0
    with store.transaction("jobs") as tx:
        assert tx.position == 0
        tx.insert_jobs([first, second])
        tx.update_jobs([after])
        assert tx.rows([second.aggregate_id]) == {second.aggregate_id: second_now}
        tx.advance(7)
    assert store.position("jobs") == 7
    assert store.rows([first.aggregate_id, second.aggregate_id, "unknown"]) == {
        first.aggregate_id: first,
        second.aggregate_id: second_now,
    }
    assert list(model.every_job()) == [first, second_now]
    view = model.get(1, 2)
    assert view is not None
    assert (view.status, view.project_id, view.due_by) == ("running", 1, T + HOUR)
    assert model.get(9, 2) is None  # not another project's
    assert model.get(1, 3) is None


def test_a_batch_that_fails_writes_nothing(adapters: Adapters) -> None:
    store = adapters.projection_store
    with pytest.raises(RuntimeError), store.transaction("jobs") as tx:
        tx.insert_jobs([job(1)])
        tx.advance(1)
        raise RuntimeError("the batch failed")
    assert store.position("jobs") == 0
    assert list(adapters.read_model.every_job()) == []


def test_damage_is_recorded_once_and_its_job_cannot_be_read_or_run(adapters: Adapters) -> None:
    damaged, sound = job(1), job(2)
    written(adapters, damaged, sound)
    first = Damage(5, damaged.aggregate_id, "edited in place")
    for _ in range(2):  # a rebuild meets the same damage again
        with adapters.projection_store.transaction("jobs") as tx:
            tx.record_damage([first, Damage(6, damaged.aggregate_id, "follows it")])
    assert adapters.projection_store.damage() == [
        first,
        Damage(6, damaged.aggregate_id, "follows it"),
    ]
    with pytest.raises(DamagedRecord, match="edited in place"):
        adapters.read_model.get(1, 1)
    assert [due.job_id for due in adapters.read_model.due(T, 10)] == [2]


def test_due_are_scheduled_jobs_past_their_start_and_running_ones_past_their_lease(
    adapters: Adapters,
) -> None:
    written(
        adapters,
        job(1, start_at=T - 2),
        job(2, start_at=T + 1),  # not yet
        job(3, "running", start_at=T - 3, lease_until=T),
        job(4, "running", start_at=T - 4, lease_until=T + 1),  # its worker still holds it
        job(5, "failed", start_at=T - 5),
        job(6, "completed", start_at=T - 6),
        job(7, start_at=T - 2, project_id=2),
    )
    assert adapters.read_model.due(T, 10) == [
        DueJob(3, 1, "user-3"),
        DueJob(1, 1, "user-1"),
        DueJob(7, 2, "user-7"),
    ]
    assert adapters.read_model.due(T, 2) == [DueJob(3, 1, "user-3"), DueJob(1, 1, "user-1")]


def test_owing_answers_are_the_unanswered_jobs_due_by_then_soonest_first(
    adapters: Adapters,
) -> None:
    written(
        adapters,
        job(1, respond_by=T + 3),
        job(2, "running", respond_by=T + 1),
        job(3, "failed", respond_by=T + 2),
        job(4, "completed", respond_by=T),  # answered
        job(5, "cancelled", respond_by=T),  # withdrawn
        job(6, respond_by=T + 9),  # not due by then
        job(7, respond_by=T + 1, project_id=2),
    )

    def owing(project_id: int | None, limit: int = 10) -> list[int]:
        return [view.job_id for view in adapters.read_model.owing_answers(project_id, T + 3, limit)]

    assert owing(None) == [2, 7, 3, 1]
    assert owing(1) == [2, 3, 1]
    assert owing(None, limit=2) == [2, 7]


def test_forgettable_are_ended_jobs_whose_user_is_not_forgotten_yet(adapters: Adapters) -> None:
    written(
        adapters,
        job(1, "completed"),
        job(2, "failed"),
        job(3, "cancelled", updated_at=T + 1),  # ended after then
        job(4, "completed", reference_id=FORGOTTEN),
        job(5, "running"),
        job(6, "cancelled"),
        job(7, "completed", project_id=2),
    )
    assert adapters.read_model.forgettable(T, 0, 10) == [1, 2, 6, 7]
    assert adapters.read_model.forgettable(T, 2, 2) == [6, 7]

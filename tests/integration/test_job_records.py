"""The job's shape is written once (application/job_records.py): the jobs table has the
row's columns, and every read gives each value under its own name, whichever side
reads it. Every value below differs from every other, so a column read into another
field's place, or not written, shows."""

import msgspec
import pytest
from sqlalchemy import MetaData

from api.composition import Services
from application.job_records import (
    COLUMNS,
    EVENT_COLUMNS,
    VIEW_COLUMNS,
    JobRow,
    JobView,
    changed,
)
from infrastructure.tables import jobs_table
from tests.conftest import on_a_loop

ROW = JobRow(
    job_id=900_001,
    aggregate_id="0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
    version=2,
    project_id=424_242,
    action="delete_user",
    reference_id="ada@example.com",
    description="a description",
    status="running",
    errors="an error",
    created_at=1_700_000_000_001,
    updated_at=1_700_000_000_002,
    start_at=1_700_000_000_003,
    lease_until=1_700_000_000_004,
    respond_by=1_700_000_000_005,
)
AFTER = JobRow(
    job_id=ROW.job_id,
    aggregate_id=ROW.aggregate_id,
    version=7,
    project_id=535_353,  # not an event's to change: stays as it was
    action="not written",
    reference_id="forgotten",
    description="another description",
    status="failed",
    errors="another error",
    created_at=1_700_000_000_011,
    updated_at=1_700_000_000_012,
    start_at=1_700_000_000_013,
    lease_until=None,
    respond_by=1_700_000_000_015,
)


def test_the_jobs_table_has_the_rows_columns_in_the_rows_order() -> None:
    table = jobs_table("jobs_shape", MetaData())
    assert [column.name for column in table.columns] == [*COLUMNS, "damaged"]


def test_a_view_shows_columns_of_the_row_and_events_change_columns_of_the_row() -> None:
    assert set(VIEW_COLUMNS) <= set(COLUMNS)
    assert len(VIEW_COLUMNS) == len(JobView.__struct_fields__)
    assert set(EVENT_COLUMNS) <= set(COLUMNS) - {"job_id", "aggregate_id"}


def the_view_of(row: JobRow) -> dict[str, object]:
    """What a view must say of a row, field by field, by the fields' names."""
    return {
        field: getattr(row, "respond_by" if field == "due_by" else field)
        for field in JobView.__struct_fields__
    }


def as_named(view: JobView | None) -> dict[str, object]:
    assert view is not None
    return msgspec.structs.asdict(view)


def every_read_of(services: Services, row: JobRow) -> list[JobView | None]:
    queries = services.queries

    async def as_the_api_reads() -> list[JobView | None]:
        found: list[JobView | None] = [await queries.get(row.project_id, row.job_id)]
        found += await queries.page(row.project_id, None, 10, 1)
        found += await queries.page(row.project_id, None, 10, 1, row.reference_id[:3])
        found += [job async for batch in queries.all(row.project_id, None) for job in batch]
        return found

    model = services.read_model
    return [
        model.get(row.project_id, row.job_id),
        *model.page(row.project_id, None, 10, 0),
        *on_a_loop(services, as_the_api_reads),
    ]


def read_back(services: Services, row: JobRow) -> JobRow:
    [read] = [job for job in services.read_model.every_job() if job.job_id == row.job_id]
    with services.projection_store.transaction("jobs") as tx:
        assert tx.rows([row.aggregate_id]) == {row.aggregate_id: read}
    return read


@pytest.mark.parametrize("shape", ["new row", "row after events"])
def test_every_read_gives_each_column_under_its_own_name(services: Services, shape: str) -> None:
    with services.projection_store.transaction("jobs") as tx:
        tx.insert_jobs([ROW])
        if shape == "row after events":
            tx.update_jobs([AFTER])
    expected = ROW if shape == "new row" else changed(ROW, AFTER)

    assert read_back(services, expected) == expected
    views = every_read_of(services, expected)
    assert len(views) == 6
    assert all(as_named(view) == the_view_of(expected) for view in views)


def test_events_change_their_columns_and_no_other() -> None:
    after = changed(ROW, AFTER)
    for column in COLUMNS:
        source = AFTER if column in EVENT_COLUMNS else ROW
        assert getattr(after, column) == getattr(source, column), column

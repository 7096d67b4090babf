"""A database from before response deadlines, upgraded on both backends: its jobs
table gets the column, each existing row the law's month after its request, and
its old Scheduled events decode with the same deadline, so the read model and the
log agree without a rebuild."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from api.composition import Services
from application.audit import compare, refold_all
from application.epoch import epoch_ms
from domain.deadline import ONE_MONTH
from infrastructure.schema import prepare_database
from tests.conftest import job_now
from tests.integration.test_personal_data_before_sealing import upgraded_from_a_clear_log
from tests.runner_support import runner_kit


def without_the_deadline_column(services: Services) -> None:
    """The jobs table as the versions before deadlines made it."""
    with services.database.writer() as conn:
        conn.execute(text('ALTER TABLE "jobs" DROP COLUMN "respond_by"'))


def test_rows_of_an_older_table_are_given_the_month_their_events_decode_with(
    services: Services, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    job_ids = [kit.schedule(user) for user in ("alice", "bob")]
    without_the_deadline_column(services)

    prepare_database(services.database)

    for job_id in job_ids:
        job = job_now(services, 1, job_id)
        requested = services.log.job(job_id)
        assert requested is not None
        assert job.due_by == epoch_ms(ONE_MONTH.after(requested.created_on))
    assert list(compare(refold_all(services.log), services.read_model.every_job())) == []


def test_a_job_requested_by_an_older_version_is_due_a_month_after_its_request(
    services: Services, tmp_path: Path
) -> None:
    kit = runner_kit(services, tmp_path)
    projected_before = kit.schedule("carol")
    without_the_deadline_column(services)

    upgraded = upgraded_from_a_clear_log(services, tmp_path)  # its events are version 1
    try:
        rows = {row.job_id: row for row in upgraded.read_model.every_job()}
        assert set(rows) > {projected_before} and len(rows) == 2
        for row in rows.values():
            assert row.respond_by == epoch_ms(ONE_MONTH.after(_moment(row.created_at)))
        assert list(compare(refold_all(upgraded.log), upgraded.read_model.every_job())) == []
    finally:
        upgraded.close()


def _moment(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)

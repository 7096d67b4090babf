"""A search for what is left of a job's user is kept on the ended job as an account
(RemainsSearched): places and counts only, its status and updatedAt unchanged, in
the aggregate, the stored event and the read model's row alike."""

from collections.abc import Callable, Collection, Mapping

import msgspec
import pytest

from application.event_log import LoggedEvent
from application.job_records import JobRow, job_row
from application.projection import JobsProjection
from domain.errors import IllegalTransition
from domain.job import Job
from domain.lifecycle import JobStatus
from domain.remains import RemainsPlace
from infrastructure.mapper import MsgspecMapper
from tests.unit.test_job_transitions import at, job_in

PLACES = [
    RemainsPlace("sqlite:////srv/or.db", "errors.message", 2, "rows"),
    RemainsPlace("target", "sessions", 1, "rows", "sessions"),
]
SEARCHED = {"targets": 3, "databases": 1, "columns": 12}


@pytest.mark.parametrize(
    "status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED], ids=str
)
def test_an_ended_job_keeps_the_search_without_changing_its_status_or_updated_at(
    status: JobStatus,
) -> None:
    job = job_in(status)
    before = (job.status, job.modified_on, job.version)
    job.record_remains_search(
        actor="jobtrail:targets-find", at=at(90), places=PLACES, searched=SEARCHED
    )
    assert (job.status, job.modified_on) == before[:2]
    assert job.version == before[2] + 1
    [search] = job.remains_searches
    assert (search.at, list(search.places), search.searched) == (at(90), PLACES, SEARCHED)
    assert not search.nothing_left


@pytest.mark.parametrize("status", [JobStatus.SCHEDULED, JobStatus.RUNNING], ids=str)
def test_a_job_that_may_still_delete_refuses_a_search(status: JobStatus) -> None:
    job = job_in(status)
    with pytest.raises(IllegalTransition, match="search for remains"):
        job.record_remains_search(actor="jobtrail:targets-find", at=at(90), places=[], searched={})


def test_the_stored_event_holds_names_and_counts_and_reads_back_the_same() -> None:
    job = job_in(JobStatus.COMPLETED)
    job.record_remains_search(
        actor="jobtrail:targets-find", at=at(90), places=PLACES, searched=SEARCHED
    )
    event = job.collect_events()[-1]
    mapper = MsgspecMapper()
    stored = mapper.to_stored_event(event)
    assert stored.topic == "domain.job:Job.RemainsSearched"
    assert b"alice" not in stored.state
    back = mapper.to_domain_event(stored)
    assert isinstance(back, Job.RemainsSearched)
    assert (list(back.places), back.searched) == (PLACES, SEARCHED)


def rows_of(rows: list[JobRow]) -> Callable[[Collection[str]], Mapping[str, JobRow]]:
    return lambda ids: {row.aggregate_id: row for row in rows if row.aggregate_id in ids}


def test_the_projection_moves_the_row_to_the_new_version_and_nothing_else() -> None:
    job = job_in(JobStatus.COMPLETED)
    ended = job_row(job)
    job.record_remains_search(
        actor="jobtrail:targets-find", at=at(90), places=PLACES, searched=SEARCHED
    )
    events = job.collect_events()
    logged = [LoggedEvent(n, event) for n, event in enumerate(events, 1)]
    projection = JobsProjection()

    at_once = projection.fold(logged, rows_of([]))
    assert at_once.rows == [msgspec.structs.replace(ended, version=ended.version + 1)]

    # The search alone, in a later batch, over the row an earlier batch left.
    later = projection.fold(logged[-1:], rows_of([ended]))
    [change] = later.changes
    assert (change.version, change.updated_at, change.status) == (
        ended.version + 1,
        ended.updated_at,
        ended.status,
    )
    assert job_row(job) == msgspec.structs.replace(ended, version=ended.version + 1)

"""Scheduling on PostgreSQL's event-loop path (ADR 29): the database links the chain
exactly as `verify` does, and scheduling's inline rows and a projection that lags
behind it agree."""

import asyncio
import itertools
import uuid

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.composition import Services, build_services
from application.audit import compare, refold_all
from application.commands import JobCommands
from infrastructure.append_function import append_statement, append_values
from infrastructure.chain import verify_chain
from infrastructure.clock import SystemClock
from infrastructure.settings import Settings
from tests.conftest import job_now, on_a_loop
from tests.scheduling import SchedulingCommands

USER_NUMBERS = itertools.count()

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

EVENTS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=2**40),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80),
        st.binary(max_size=300),
    ),
    min_size=1,
    max_size=6,
)
AGGREGATE_NUMBERS = itertools.count(1)
"""Each example's events belong to aggregates of their own: examples share a log."""


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=EVENTS)
def test_the_database_links_any_event_as_verify_does(
    services: Services, events: list[tuple[int, str, bytes]]
) -> None:
    # Between appends of eventsourcing's recorder, which links in Python.
    SchedulingCommands.of(services).schedule_user_deletion(1, f"user-{next(USER_NUMBERS)}", "key:k")
    url = services.database.url
    assert url.schema is not None
    append = append_statement(url.schema, url.events_table, with_rows=False)
    stored = [
        StoredEvent(uuid.UUID(int=next(AGGREGATE_NUMBERS)), version, topic, state)
        for version, topic, state in events
    ]
    with psycopg.connect(url.libpq_conninfo, autocommit=True) as connection:
        positions = connection.execute(append, append_values(stored)).fetchall()
    assert len(positions) == len(events)
    report = verify_chain(services.log, services.database)
    assert report.intact, report.reason
    assert report.head_position == positions[-1][0]


def test_a_projection_that_lags_folds_over_the_rows_scheduling_wrote(
    due_at_once: Services,
) -> None:
    services = due_at_once
    running = (
        SchedulingCommands.of(services)
        .schedule_user_deletion(1, "ada@example.com", "key:k")
        .job.job_id
    )
    # A worker's start, which no one waits on: the projection has not applied it.
    worker = JobCommands(services.log, SystemClock())
    worker.start(running, "worker:w")
    behind = services.projector.position()
    assert behind < services.log.head()

    scheduling = services.scheduling
    answers = on_a_loop(
        services,
        lambda: asyncio.gather(
            scheduling.schedule_user_deletion(1, "ada@example.com", "key:k"),
            scheduling.schedule_user_deletion(1, "bob@example.com", "key:k"),
            scheduling.schedule_user_deletion(1, "cy@example.com", "key:k"),
        ),
    )

    ada, bob, cy = (answer.job for answer in answers)
    assert ada.job_id == running and ada.status == "running"
    # Read at once, with the projection still behind: written with the events.
    assert job_now(services, 1, running).status == "running"
    assert job_now(services, 1, bob.job_id) == bob
    assert job_now(services, 1, cy.job_id) == cy
    assert services.projector.position() == behind

    services.projector.catch_up()
    assert services.projector.position() == services.log.head()
    assert list(compare(refold_all(services.log), services.read_model.every_job())) == []
    assert verify_chain(services.log, services.database).intact


def test_a_caught_up_projection_moves_past_what_scheduling_wrote(services: Services) -> None:
    scheduling = services.scheduling
    on_a_loop(services, lambda: scheduling.schedule_user_deletion(1, "dee@example.com", "k"))
    assert services.projector.position() == services.log.head()
    assert list(compare(refold_all(services.log), services.read_model.every_job())) == []


def test_a_user_asked_for_in_two_processes_at_once_gets_one_job(database_url: str) -> None:
    first, second = (build_services(Settings(database_url=database_url)) for _ in range(2))
    try:

        async def both() -> list[int]:
            await first.scheduling.open()
            await second.scheduling.open()
            try:
                answers = await asyncio.gather(
                    *(
                        side.scheduling.schedule_user_deletion(1, f"twin-{n % 5}", "k")
                        for n in range(40)
                        for side in (first, second)
                    )
                )
            finally:
                await first.scheduling.close()
                await second.scheduling.close()
            return [answer.job.job_id for answer in answers]

        job_ids = asyncio.run(both())
        assert len(set(job_ids)) == 5
        first.projector.catch_up()
        assert list(compare(refold_all(first.log), first.read_model.every_job())) == []
    finally:
        first.close()
        second.close()

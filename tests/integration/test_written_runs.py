"""A projection steps over the runs of events whose rows scheduling wrote with them
(ADR 31), and over nothing else: an event of another writer is always folded."""

import asyncio
import itertools
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.composition import Services, build_services
from application.audit import compare, refold_all
from application.event_log import LoggedEvent
from application.job_records import JobView
from application.projection import FoldedBatch, JobsProjection, KnownRows
from application.projector import Projector
from infrastructure.chain import verify_chain
from infrastructure.clock import SystemClock
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.locks import ProjectionLeadership
from infrastructure.settings import Settings
from tests.conftest import job_now, on_a_loop, postgres_admin_url
from tests.scheduling import SchedulingCommands

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

USER_NUMBERS = itertools.count()


class CountingProjection(JobsProjection):
    """The jobs projection, counting the events it folds."""

    def __init__(self) -> None:
        super().__init__()
        self.folded = 0

    def fold(self, events: Iterable[LoggedEvent], known: KnownRows) -> FoldedBatch:
        events = list(events)
        self.folded += len(events)
        return super().fold(events, known)


def another_writer(services: Services) -> SchedulingCommands:
    """Commands whose events no one waits for: the projection is left behind them."""
    return SchedulingCommands(
        services.log, SqlJobIdAllocator(services.database), SystemClock(), timedelta(0)
    )


def started_behind_the_projection(services: Services) -> tuple[int, SchedulingCommands]:
    """Ada's job, scheduled and then started by another writer (as a worker does),
    whose event the projection has not folded: the projection is behind from here."""
    others = another_writer(services)
    ada = (
        SchedulingCommands.of(services)
        .schedule_user_deletion(1, "ada@example.com", "key:k")
        .job.job_id
    )
    others.start(ada, "worker:w")
    return ada, others


def scheduled_together(services: Services, *users: str) -> list[JobView]:
    """One batch of scheduling on the event loop, its rows written with its events."""
    scheduling = services.scheduling
    answers = on_a_loop(
        services,
        lambda: asyncio.gather(
            *(scheduling.schedule_user_deletion(1, user, "key:k") for user in users)
        ),
    )
    return [answer.job for answer in answers]


def a_projector_whose_page_ends_at(services: Services, position: int) -> Projector:
    """As the follower that read the log up to ``position`` before the next batch landed."""
    behind = services.projector.position()
    return Projector(
        services.log, services.projection_store, CountingProjection(), batch_size=position - behind
    )


def folded(projector: Projector) -> int:
    projection = projector._projection
    assert isinstance(projection, CountingProjection)
    return projection.folded


def read_model_is_the_log_refolded(services: Services) -> None:
    assert list(compare(refold_all(services.log), services.read_model.every_job())) == []
    assert verify_chain(services.log, services.database).intact


def test_a_batch_that_lands_while_the_projection_folds_is_stepped_over(
    due_at_once: Services,
) -> None:
    services = due_at_once
    ada, _ = started_behind_the_projection(services)
    behind, read_up_to = services.projector.position(), services.log.head()
    follower = a_projector_whose_page_ends_at(services, read_up_to)

    bob, cy = scheduled_together(services, "bob@example.com", "cy@example.com")

    assert follower.step() == read_up_to - behind
    assert follower.position() == services.log.head()
    assert folded(follower) == 1  # the worker's start; the batch's events were written
    assert job_now(services, 1, ada).status == "running"
    assert job_now(services, 1, bob.job_id) == bob
    assert job_now(services, 1, cy.job_id) == cy
    read_model_is_the_log_refolded(services)


def test_an_event_of_another_writer_between_two_batches_is_folded(
    due_at_once: Services,
) -> None:
    services = due_at_once
    _, others = started_behind_the_projection(services)
    behind = services.projector.position()
    (dan,) = scheduled_together(services, "dan@example.com")
    others.cancel(1, dan.job_id, "key:k")
    cancelled_at = services.log.head()
    follower = a_projector_whose_page_ends_at(services, cancelled_at)
    (eve,) = scheduled_together(services, "eve@example.com")

    follower.step()

    assert follower.position() == services.log.head()
    # The start, dan's batch (its run was replaced by eve's) and the cancel.
    assert folded(follower) == cancelled_at - behind
    assert job_now(services, 1, dan.job_id).status == "cancelled"
    assert job_now(services, 1, eve.job_id) == eve
    read_model_is_the_log_refolded(services)


def test_a_run_never_reaches_back_over_an_event_of_another_writer(
    due_at_once: Services,
) -> None:
    services = due_at_once
    _, others = started_behind_the_projection(services)
    read_up_to = services.log.head()
    follower = a_projector_whose_page_ends_at(services, read_up_to)
    (dan,) = scheduled_together(services, "dan@example.com")
    others.cancel(1, dan.job_id, "key:k")
    scheduled_together(services, "eve@example.com")

    follower.step()

    # The run that follows the cancel starts after it: nothing to step over here.
    assert follower.position() == read_up_to
    services.projector.catch_up()
    assert job_now(services, 1, dan.job_id).status == "cancelled"
    read_model_is_the_log_refolded(services)


ACTIONS = st.lists(
    st.tuples(st.sampled_from(["schedule", "cancel", "step"]), st.integers(0, 50)),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_whatever_the_interleaving_the_read_model_is_the_log_refolded(
    due_at_once: Services, actions: list[tuple[str, int]]
) -> None:
    services = due_at_once
    others = another_writer(services)
    cancellable: list[int] = []
    ends = [services.log.head()]  # where each writer's events end: where pages may end
    for action, number in actions:
        if action == "schedule":
            users = [f"user-{next(USER_NUMBERS)}@example.com" for _ in range(number % 4 + 1)]
            cancellable += [job.job_id for job in scheduled_together(services, *users)]
        elif action == "cancel" and cancellable:
            others.cancel(1, cancellable.pop(number % len(cancellable)), "key:k")
        elif action == "step":
            position = services.projector.position()
            ahead = [end for end in ends if end > position]
            if ahead:
                page = ahead[number % len(ahead)] - position
                Projector(services.log, services.projection_store, JobsProjection(), page).step()
        ends.append(services.log.head())
    services.projector.catch_up()
    assert services.projector.position() == services.log.head()
    read_model_is_the_log_refolded(services)


def woken(leadership: ProjectionLeadership) -> bool:
    """Whether an append woke the projection's follower since the last look."""
    any_notification = leadership.wait_for_events(0.3)
    while leadership.wait_for_events(0.05):
        pass
    return any_notification


def test_the_follower_is_woken_only_when_it_has_events_to_fold(due_at_once: Services) -> None:
    services = due_at_once
    leadership = ProjectionLeadership(services.database, services.projector.name)
    assert leadership.try_acquire()
    try:
        woken(leadership)  # listening from here
        scheduled_together(services, "bob@example.com", "cy@example.com")
        assert services.projector.position() == services.log.head()
        assert not woken(leadership)  # the batch moved the position past itself

        started_behind_the_projection(services)
        assert woken(leadership)  # another writer's event is left to fold

        scheduled_together(services, "dan@example.com")
        assert woken(leadership)  # a run to step over, behind that event
    finally:
        leadership.release()


@pytest.fixture
def installation_beside(due_at_once: Services) -> Iterator[Services]:
    """Another jobtrail in a schema of its own in the same database."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    built = build_services(Settings(database_url=f"{postgres_admin_url()}?schema={schema}"))
    yield built
    built.close()
    with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_an_installation_in_another_schema_wakes_no_follower_here(
    due_at_once: Services, installation_beside: Services
) -> None:
    leadership = ProjectionLeadership(due_at_once.database, due_at_once.projector.name)
    assert leadership.try_acquire()
    try:
        woken(leadership)  # listening from here
        another_writer(installation_beside).schedule_user_deletion(1, "ada@example.com", "k")
        assert not woken(leadership)
        another_writer(due_at_once).schedule_user_deletion(1, "ada@example.com", "k")
        assert woken(leadership)
    finally:
        leadership.release()

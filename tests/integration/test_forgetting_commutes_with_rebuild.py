"""Forgetting commutes with a rebuild: forget then rebuild = rebuild then forget.

Two databases get the same random history (users asking again and again, jobs
completed, cancelled or left active, days apart); one forgets and then rebuilds
its read model from the log, the other rebuilds and then forgets. Their read
models must be equal, and each must equal the log folded afresh.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.composition import Services, build_services
from application.audit import compare, refold_all
from application.forgetting import Forgetting
from application.job_records import JobRow
from domain.lifecycle import JobStatus
from domain.request import FORGOTTEN
from infrastructure.rebuild import Rebuild
from infrastructure.settings import Settings
from tests.clocks import SteppingClock
from tests.conftest import BACKENDS, postgres_admin_url, require_postgres
from tests.runner_support import runner_kit

FORGET_AFTER = timedelta(days=30)
Step = tuple[int, int, str]  # user, days since the previous request, what becomes of the job

steps = st.lists(
    st.tuples(
        st.integers(0, 3), st.integers(0, 40), st.sampled_from(["complete", "cancel", "active"])
    ),
    min_size=1,
    max_size=8,
)


@contextmanager
def fresh_services(backend: str, folder: Path) -> Iterator[Services]:
    name = f"commute_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{folder / name}.db"
    else:
        url = f"{postgres_admin_url()}?schema={name}"
    services = build_services(Settings(database_url=url))
    try:
        yield services
    finally:
        services.close()
        if backend == "postgresql":
            with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def live_history(services: Services, plan: list[Step]) -> SteppingClock:
    kit = runner_kit(services, Path("unused"))
    for user, days, fate in plan:
        kit.clock.advance(timedelta(days=days))
        job = kit.commands.schedule_user_deletion(1, f"user-{user}@example.com", "key:k").job
        if fate == "cancel" and job.status == JobStatus.SCHEDULED:
            kit.commands.cancel(1, job.job_id, "key:k")
        elif fate == "complete" and job.status == JobStatus.SCHEDULED:
            # The worker's commands, called in order (a worker's own threads read
            # the clock at moments of their own, and both histories must be alike).
            lease_until = kit.clock.current + timedelta(minutes=1)
            started = kit.commands.start(job.job_id, "worker:a", lease_until)
            kit.commands.record_batch(
                job.job_id, "worker:a", started.attempt, {"sessions": 3}, lease_until
            )
            kit.commands.complete(job.job_id, "worker:a", started.attempt, {"sessions": 0})
    services.projector.catch_up()
    return kit.clock


def forget(services: Services, clock: SteppingClock, days_later: int) -> None:
    Forgetting(
        services.log,
        services.read_model,
        services.log.vault,  # type: ignore[attr-defined]
        SteppingClock(clock.current + timedelta(days=days_later)),
        FORGET_AFTER,
        after_write=lambda position: services.projector.wait_for(position, 10),
    ).forget_due()


def rebuild(services: Services) -> None:
    Rebuild(services.log, services.database, batch_size=4).run()


def read_model(services: Services) -> list[JobRow]:
    rows = list(services.read_model.every_job())
    assert list(compare(refold_all(services.log), rows)) == []
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
def test_forget_then_rebuild_equals_rebuild_then_forget(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        require_postgres()

    @settings(
        max_examples=6 if backend == "postgresql" else 12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(plan=steps, days_later=st.integers(0, 120))
    def commutes(plan: list[Step], days_later: int) -> None:
        with (
            fresh_services(backend, tmp_path) as first,
            fresh_services(backend, tmp_path) as second,
        ):
            clock = live_history(first, plan)
            live_history(second, plan)

            assert forget_then_rebuild(first, clock, days_later) == rebuild_then_forget(
                second, clock, days_later
            )

    commutes()


def forget_then_rebuild(services: Services, clock: SteppingClock, days: int) -> list[JobRow]:
    forget(services, clock, days)
    rebuild(services)
    return read_model(services)


def rebuild_then_forget(services: Services, clock: SteppingClock, days: int) -> list[JobRow]:
    rebuild(services)
    forget(services, clock, days)
    return read_model(services)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_property_is_not_vacuous_users_are_forgotten_in_both_orders(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgresql":
        require_postgres()
    plan = [(0, 0, "complete"), (1, 0, "cancel"), (2, 0, "active"), (0, 10, "cancel")]
    with fresh_services(backend, tmp_path) as first, fresh_services(backend, tmp_path) as second:
        clock = live_history(first, plan)
        live_history(second, plan)
        rows = forget_then_rebuild(first, clock, 31)
        assert rows == rebuild_then_forget(second, clock, 31)
    assert [row.reference_id for row in rows] == [
        FORGOTTEN,  # user 0: both jobs, once the later one is 30 days old
        FORGOTTEN,
        "user-2@example.com",  # still active
        FORGOTTEN,
    ]

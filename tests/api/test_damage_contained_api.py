"""A damaged event answers 409 (or 404) for its own job, never 500, and every other
job and user is served: for each way a stored row can be damaged, damaged before the
projection met it or after (ADR 17)."""

from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services
from domain.job import job_aggregate_id
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.clocks import SteppingClock
from tests.conftest import Tenant, new_tenant
from tests.damaging import DAMAGES, Damage, damage
from tests.scheduling import SchedulingCommands

BEFORE = "damaged before the projection met it"
AFTER = "damaged after the projection met it"
LEASE = datetime(2999, 1, 1, tzinfo=UTC)


def schedule(client: TestClient, tenant: Tenant, user: str) -> int:
    response = client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers)
    assert response.status_code == 200, response.text
    job_id: int = response.json()["data"]["jobId"]
    return job_id


def ignore(position: int) -> None:
    """Nobody waits for the read model: it meets these events later."""


def running_job(services: Services, tenant: Tenant, projected: bool) -> int:
    """A job of three events (Scheduled, Started, BatchDeleted), still cancellable;
    ``projected``: the read model holds it before anything is damaged."""
    clock = SteppingClock(datetime.now(UTC))
    commands = SchedulingCommands(
        services.log,
        SqlJobIdAllocator(services.database),
        clock,
        services.settings.deletion_delay,
        after_write=(lambda p: services.projector.wait_for(p, 10.0)) if projected else ignore,
    )
    job_id = commands.schedule_user_deletion(
        tenant.project.id, "victim@example.com", "k"
    ).job.job_id
    clock.advance(timedelta(days=2))  # past its start time (the next UTC midnight)
    started = commands.start(job_id, "worker:w", LEASE)
    commands.record_batch(job_id, "worker:w", started.attempt, {"sessions": 2}, LEASE)
    return job_id


@pytest.mark.parametrize("when", [BEFORE, AFTER])
@pytest.mark.parametrize("done", DAMAGES, ids=str)
def test_a_damaged_job_answers_409_or_404_and_every_other_job_is_served(
    client: TestClient,
    tenant: Tenant,
    app_services: Services,
    settings: Settings,
    done: Damage,
    when: str,
) -> None:
    bystander = schedule(client, tenant, "bystander@example.com")
    victim = running_job(app_services, tenant, projected=when == AFTER)
    damage(app_services, job_aggregate_id(victim), done)
    later = schedule(client, tenant, "later@example.com")
    app_services.projector.catch_up()  # the projection goes on, as its follower would
    # Its first event unreadable before the projection met it: nobody can tell whose
    # job it was, so it is not found. Otherwise its own organization is told why.
    owner_sees = 404 if when == BEFORE and done.version == 1 else 409
    # A process that has not read the job before (this one caches what it loaded).
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as fresh:
        answers(fresh, tenant, victim, owner_sees)
        current = fresh.get(tenant.url(f"/jobs/{victim}"), headers=tenant.headers)
        if when == AFTER:
            # The read model's copy was made while the record was whole, and stays
            # true; `projections rebuild` marks it (test_damage_contained.py).
            assert current.status_code == 200, current.text
        else:
            assert_refused(current, owner_sees)
        outsider = new_tenant(fresh.app.state.services, "Other")  # type: ignore[attr-defined]
        answers(fresh, outsider, victim, 404)
        for job_id in (bystander, later):
            for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/events"):
                response = fresh.get(tenant.url(path), headers=tenant.headers)
                assert response.status_code == 200, (path, response.text)
        again = fresh.delete(tenant.url("/users/victim@example.com"), headers=tenant.headers)
        assert again.status_code == 200, again.text
        assert again.json()["data"]["jobId"] not in (victim, bystander, later)


def answers(client: TestClient, tenant: Tenant, victim: int, status: int) -> None:
    """The job's history, its past state, a cancel and its dashboard page."""
    for method, path in [
        ("GET", f"/jobs/{victim}/events"),
        ("GET", f"/jobs/{victim}?version=3"),
        ("DELETE", f"/jobs/{victim}"),
    ]:
        response = client.request(method, tenant.url(path), headers=tenant.headers)
        assert_refused(response, status)
    client.cookies.clear()
    client.post("/ui/login", data={"api_key": tenant.key.api_key}, follow_redirects=False)
    page = client.get(f"/ui/projects/{tenant.project.project_key}/jobs/{victim}")
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    if status == 409:
        assert "damaged" in page.text


def assert_refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    if status == 409:
        assert "damaged" in response.json()["errors"][0]

"""After forgetting, the API, the event history and the dashboard show the job
without the person; the marker itself can never be requested as a user."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from starlette.testclient import TestClient

from api.composition import Services
from application.audit import compare, refold_all
from application.forgetting import Forgetting
from domain.request import FORGOTTEN
from tests.clocks import SteppingClock
from tests.conftest import Tenant, tomorrows_commands

USER = "gone.6e0a@example.com"
LATER = datetime(2999, 1, 1, tzinfo=UTC)


def completed_and_forgotten(client: TestClient, tenant: Tenant, services: Services) -> int:
    job_id: int = client.delete(tenant.url(f"/users/{USER}"), headers=tenant.headers).json()[
        "data"
    ]["jobId"]
    worker = tomorrows_commands(services)
    worker.start(job_id, "worker:w")
    worker.record_batch(job_id, "worker:w", 1, {"sessions": 4}, LATER)
    worker.complete(job_id, "worker:w", 1, {"sessions": 0})
    Forgetting(
        services.log,
        services.read_model,
        services.log.vault,  # type: ignore[attr-defined]
        SteppingClock(datetime.now(UTC) + timedelta(days=40)),
        timedelta(days=30),
        after_write=lambda position: services.projector.wait_for(position, 10),
    ).forget_due()
    return job_id


def test_a_forgotten_job_is_served_with_the_marker_and_everything_else_intact(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    job_id = completed_and_forgotten(client, tenant, app_services)
    job = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"]
    assert job["referenceId"] == FORGOTTEN
    assert job["description"] == "Delete user sessions of userId = [forgotten]"
    assert job["status"] == "completed" and job["createdAt"] < job["updatedAt"]
    listing = client.get(tenant.url("/jobs"), headers=tenant.headers).text
    assert USER not in listing
    events = client.get(tenant.url(f"/jobs/{job_id}/events"), headers=tenant.headers)
    assert events.status_code == 200 and USER not in events.text
    assert "PersonalDataForgotten" in events.text
    first = client.get(tenant.url(f"/jobs/{job_id}?version=1"), headers=tenant.headers)
    assert first.json()["data"]["referenceId"] == FORGOTTEN


def test_forgetting_moves_none_of_a_jobs_times(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    """Forgetting is jobtrail's retention, not a step of the job: a client that
    syncs by updatedAt, and an auditor reading when a job ended, see the times the
    job's own work gave it (issue 26: updatedAt moved from …189772 to …374721)."""
    job_id: int = client.delete(tenant.url(f"/users/{USER}"), headers=tenant.headers).json()[
        "data"
    ]["jobId"]
    worker = tomorrows_commands(app_services)
    worker.start(job_id, "worker:w")
    worker.complete(job_id, "worker:w", 1, {"sessions": 0})
    before = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"]

    Forgetting(
        app_services.log,
        app_services.read_model,
        app_services.log.vault,  # type: ignore[attr-defined]
        SteppingClock(datetime.now(UTC) + timedelta(days=40)),
        timedelta(days=30),
        after_write=lambda position: app_services.projector.wait_for(position, 10),
    ).forget_due()

    after = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"]
    assert after["referenceId"] == FORGOTTEN
    times = ("createdAt", "updatedAt", "startAt")
    assert {t: after[t] for t in times} == {t: before[t] for t in times}
    assert list(compare(refold_all(app_services.log), app_services.read_model.every_job())) == []


def test_the_dashboard_shows_a_forgotten_job_without_the_person(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    job_id = completed_and_forgotten(client, tenant, app_services)
    client.post("/ui/login", data={"api_key": tenant.key.api_key}, follow_redirects=False)
    base = f"/ui/projects/{tenant.project.project_key}"
    for page in (client.get(base).text, client.get(f"{base}/jobs/{job_id}").text):
        assert USER not in page
        assert FORGOTTEN in page


def test_the_marker_cannot_be_requested_as_a_user_and_nothing_changes(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.delete(
        tenant.url(f"/users/{quote(FORGOTTEN, safe='')}"), headers=tenant.headers
    )
    assert response.status_code == 400
    assert "reserved" in str(response.json()["errors"])
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).json()["data"] == []

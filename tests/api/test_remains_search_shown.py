"""A search for what is left, kept on an ended job, as the API and the dashboard
show it: an event of the job with its places (names and counts), the job itself
unchanged."""

from starlette.testclient import TestClient

from api.composition import Services
from application.remains import FINDER
from domain.remains import RemainsPlace
from tests.api.test_dashboard import signed_in
from tests.conftest import Tenant, tomorrows_commands

PLACES = [RemainsPlace("postgresql://or/openreplay", "public.errors.message", 2, "rows")]


def test_a_kept_search_is_an_event_of_the_job_and_leaves_the_job_as_it_was(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    job_id = client.delete(tenant.url("/users/alice"), headers=tenant.headers).json()["data"][
        "jobId"
    ]
    worker = tomorrows_commands(app_services)
    worker.start(job_id, "worker:w")
    worker.complete(job_id, "worker:w", 1, {"sessions": 0})
    ended = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"]

    worker.record_remains_search(job_id, FINDER, PLACES, {"targets": 2, "columns": 9})

    assert client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"] == ended
    events = client.get(tenant.url(f"/jobs/{job_id}/events"), headers=tenant.headers).json()
    last = events["data"][-1]
    assert (last["type"], last["actor"]) == ("RemainsSearched", FINDER)
    assert last["data"]["places"] == [
        {
            "store": "postgresql://or/openreplay",
            "location": "public.errors.message",
            "count": 2,
            "unit": "rows",
            "coveredBy": None,
            "anyProject": False,
        }
    ]
    signed_in(client, tenant)
    page = client.get(f"/ui/projects/{tenant.project.project_key}/jobs/{job_id}").text
    assert "left: postgresql://or/openreplay public.errors.message 2 rows (not covered)" in page

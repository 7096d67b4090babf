"""A job's history from the log, and the job as it was at any moment, over HTTP."""

from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from api.composition import Services
from tests.conftest import Tenant, tomorrows_commands

FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


def schedule(client: TestClient, tenant: Tenant, user: str) -> int:
    response = client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers)
    job_id: int = response.json()["data"]["jobId"]
    return job_id


@pytest.fixture
def finished_job(client: TestClient, tenant: Tenant, app_services: Services) -> int:
    job_id = schedule(client, tenant, "audited@example.com")
    worker = tomorrows_commands(app_services)
    worker.start(job_id, "worker:w1")
    worker.record_batch(job_id, "worker:w1", 1, {"sessions": 7}, FAR_FUTURE)
    worker.complete(job_id, "worker:w1", 1)
    return job_id


def test_a_jobs_events_are_listed_in_order_with_their_actors(
    client: TestClient, tenant: Tenant, finished_job: int
) -> None:
    response = client.get(tenant.url(f"/jobs/{finished_job}/events"), headers=tenant.headers)
    assert response.status_code == 200
    events = response.json()["data"]
    assert [e["type"] for e in events] == ["Scheduled", "Started", "BatchDeleted", "Completed"]
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert set(events[0]) == {"type", "version", "at", "actor", "data"}
    assert events[0]["actor"] == f"key:{tenant.key.key_id}"
    assert tenant.key.api_key not in response.text
    assert {e["actor"] for e in events[1:]} == {"worker:w1"}
    assert events[0]["data"]["referenceId"] == "audited@example.com"
    assert events[2]["data"]["deleted"] == {"sessions": 7}
    assert events[3]["data"]["deleted"] == {"sessions": 7}
    times = [e["at"] for e in events]
    assert times == sorted(times)


def test_a_cancel_names_the_key_that_asked(client: TestClient, tenant: Tenant) -> None:
    job_id = schedule(client, tenant, "c")
    client.delete(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
    events = client.get(tenant.url(f"/jobs/{job_id}/events"), headers=tenant.headers).json()["data"]
    assert events[-1]["type"] == "Cancelled"
    assert events[-1]["actor"] == f"key:{tenant.key.key_id}"


def test_the_job_as_it_was_after_each_version(
    client: TestClient, tenant: Tenant, finished_job: int
) -> None:
    statuses = []
    for version in range(1, 5):
        response = client.get(
            tenant.url(f"/jobs/{finished_job}?version={version}"), headers=tenant.headers
        )
        assert response.status_code == 200
        statuses.append(response.json()["data"]["status"])
    assert statuses == ["scheduled", "running", "running", "completed"]


def test_the_job_as_it_was_at_a_moment(
    client: TestClient, tenant: Tenant, finished_job: int
) -> None:
    events = client.get(tenant.url(f"/jobs/{finished_job}/events"), headers=tenant.headers).json()[
        "data"
    ]
    url = tenant.url(f"/jobs/{finished_job}")
    at_start = client.get(f"{url}?at={events[1]['at']}", headers=tenant.headers).json()["data"]
    assert at_start["status"] == "running"
    assert at_start["updatedAt"] == events[1]["at"]
    latest = client.get(f"{url}?at=99999999999999", headers=tenant.headers).json()["data"]
    assert latest == client.get(url, headers=tenant.headers).json()["data"]


def test_before_the_job_existed_it_is_not_found(
    client: TestClient, tenant: Tenant, finished_job: int
) -> None:
    url = tenant.url(f"/jobs/{finished_job}")
    created = client.get(url, headers=tenant.headers).json()["data"]["createdAt"]
    for query in (f"at={created - 1}", "at=0", "at=1970-01-01T00:00:00Z"):
        response = client.get(f"{url}?{query}", headers=tenant.headers)
        assert response.status_code == 404, query
        assert response.json() == {
            "errors": [f"Job {finished_job} did not exist yet at that time."]
        }
    response = client.get(f"{url}?version=5", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json() == {
        "errors": [f"Job {finished_job} has 4 events; there is no version 5."]
    }


def test_a_moment_may_be_given_in_iso_8601_as_on_the_command_line(
    client: TestClient, tenant: Tenant, finished_job: int
) -> None:
    url = tenant.url(f"/jobs/{finished_job}")
    now = client.get(url, headers=tenant.headers).json()["data"]
    iso = datetime.fromtimestamp(now["updatedAt"] / 1000, UTC).isoformat()
    for moment in (iso, iso.replace("+00:00", "Z"), iso.replace("+00:00", "")):
        response = client.get(url, params={"at": moment}, headers=tenant.headers)
        assert response.status_code == 200, moment
        assert response.json()["data"] == now


@pytest.mark.parametrize(
    "query", ["at=yesterday", "at=-1", "version=0", "version=x", "at=1&version=1", "at=1.5"]
)
def test_a_bad_moment_returns_400(
    client: TestClient, tenant: Tenant, finished_job: int, query: str
) -> None:
    response = client.get(tenant.url(f"/jobs/{finished_job}?{query}"), headers=tenant.headers)
    assert response.status_code == 400
    assert response.json()["errors"]


def test_another_projects_job_history_is_not_found(
    client: TestClient, tenant: Tenant, app_services: Services, finished_job: int
) -> None:
    other = Tenant(tenant.key, app_services.tenancy.create_project("other"))
    for path in (f"/jobs/{finished_job}/events", f"/jobs/{finished_job}?version=1"):
        assert client.get(other.url(path), headers=other.headers).status_code == 404
    assert client.get(tenant.url("/jobs/424242/events"), headers=tenant.headers).status_code == 404
    assert client.get(tenant.url("/jobs/abc/events"), headers=tenant.headers).status_code == 404

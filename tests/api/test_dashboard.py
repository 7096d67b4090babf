"""The read-only dashboard, over HTTP (the real-browser test is in tests/process)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.composition import Services
from tests.conftest import Tenant, new_tenant, tomorrows_commands

LATER = datetime(2999, 1, 1, tzinfo=UTC)


def signed_in(client: TestClient, tenant: Tenant) -> TestClient:
    response = client.post(
        "/ui/login", data={"api_key": tenant.key.api_key}, follow_redirects=False
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def with_jobs(client: TestClient, tenant: Tenant, app_services: Services) -> list[int]:
    ids = []
    for user in ("alice@example.com", "a_b", "axb", "bob@example.com"):
        ids.append(
            client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers).json()["data"][
                "jobId"
            ]
        )
    client.delete(tenant.url(f"/jobs/{ids[3]}"), headers=tenant.headers)
    worker = tomorrows_commands(app_services)
    worker.start(ids[0], "worker:w")
    worker.record_batch(ids[0], "worker:w", 1, {"sessions": 12, "recordings": 12}, LATER)
    worker.complete(ids[0], "worker:w", 1)
    return ids


def test_without_a_login_the_dashboard_asks_for_a_key(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/ui")
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert 'for="api-key"' in page.text  # the field has a label
    redirect = client.get(f"/ui/projects/{tenant.project.project_key}", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == "/ui"


def test_a_wrong_key_is_refused(client: TestClient) -> None:
    page = client.post("/ui/login", data={"api_key": "jt_nope_nope"})
    assert page.status_code == 401 and "not valid" in page.text


def test_the_login_cookie_holds_no_secret_and_is_locked_down(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/ui/login", data={"api_key": tenant.key.api_key}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert tenant.key.api_key.split("_")[2] not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_a_tampered_login_cookie_is_ignored(client: TestClient, tenant: Tenant) -> None:
    signed_in(client, tenant)
    token = client.cookies["jobtrail_session"]
    client.cookies.clear()
    client.cookies.set(
        "jobtrail_session", token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    )
    assert 'name="api_key"' in client.get("/ui").text


def test_jobs_are_listed_filtered_and_searched(
    client: TestClient, tenant: Tenant, with_jobs: list[int]
) -> None:
    signed_in(client, tenant)
    home = client.get("/ui")
    assert tenant.project.project_key in home.text
    base = f"/ui/projects/{tenant.project.project_key}"
    listing = client.get(base).text
    assert all(f"#{job_id}<" in listing for job_id in with_jobs)
    completed = client.get(f"{base}?status=completed").text
    assert f"#{with_jobs[0]}<" in completed and f"#{with_jobs[1]}<" not in completed
    literal = client.get(f"{base}?user=a_").text  # "_" is a character, not a wildcard
    assert f"#{with_jobs[1]}<" in literal and f"#{with_jobs[2]}<" not in literal
    assert "No job matches." in client.get(f"{base}?user=zzz").text


def test_a_job_page_shows_its_timeline_and_receipt(
    client: TestClient, tenant: Tenant, with_jobs: list[int]
) -> None:
    signed_in(client, tenant)
    page = client.get(f"/ui/projects/{tenant.project.project_key}/jobs/{with_jobs[0]}").text
    for word in (
        "Scheduled",
        "Started",
        "BatchDeleted",
        "Completed",
        "worker:w",
        f"key:{tenant.key.key_id}",
    ):
        assert word in page
    assert "<caption>What this job deleted, per target</caption>" in page
    assert "sessions</td><td>12" in page


def test_another_organizations_project_and_unknown_jobs_are_not_found(
    client: TestClient, tenant: Tenant, app_services: Services, with_jobs: list[int]
) -> None:
    other = new_tenant(app_services, "Other")
    signed_in(client, other)
    assert client.get(f"/ui/projects/{tenant.project.project_key}").status_code == 404
    signed_in(client, tenant)
    base = f"/ui/projects/{tenant.project.project_key}"
    assert client.get(f"{base}/jobs/999999").status_code == 404
    assert client.get(f"{base}/jobs/abc").status_code == 404


def test_signing_out_ends_the_login(client: TestClient, tenant: Tenant) -> None:
    signed_in(client, tenant)
    client.post("/ui/logout")
    assert 'name="api_key"' in client.get("/ui").text


def test_templates_ship_with_the_package() -> None:
    import api

    folder = Path(api.__file__).parent
    assert (folder / "templates" / "jobs.html").exists()
    assert (folder / "static" / "jobtrail.css").exists()

"""The dashboard cannot be framed by another site (clickjacking: a hidden frame over
a decoy page, its Sign out button under the victim's click), and no response of the
server is content-sniffed into something it is not."""

import re

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from api import ui
from tests.conftest import Tenant


def assert_not_frameable(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers.get("x-frame-options") == "DENY", where
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, where
    assert response.headers.get("x-content-type-options") == "nosniff", where


def dashboard_requests(tenant: Tenant, job_id: int) -> list[tuple[str, str]]:
    """A request to each of the dashboard's routes (from its route table), signing
    out last."""
    samples = {"projectKey": tenant.project.project_key, "jobId": str(job_id)}
    requests = []
    for route in ui.routes:
        path = re.sub(r"\{(\w+)\}", lambda name: samples[name[1]], route.path_format)
        assert route.methods
        requests += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return sorted(requests, key=lambda request: request[1] == "/ui/logout")


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_dashboard_response_forbids_framing_and_sniffing(
    client: TestClient, tenant: Tenant, signed_in: bool
) -> None:
    job = client.delete(tenant.url("/users/someone"), headers=tenant.headers).json()["data"]
    if signed_in:
        login = client.post(
            "/ui/login", data={"api_key": tenant.key.api_key}, follow_redirects=False
        )
        assert login.status_code == 303
        assert_not_frameable(login)
    for method, path in dashboard_requests(tenant, job["jobId"]):
        form = {"api_key": "jt_nope"} if path == "/ui/login" else None
        response = client.request(method, path, data=form, follow_redirects=False)
        assert response.status_code < 500
        assert_not_frameable(response)


def test_the_dashboards_refusals_forbid_framing_too(client: TestClient, tenant: Tenant) -> None:
    cross_site = client.post(
        "/ui/login", data={"api_key": "x"}, headers={"origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    assert_not_frameable(cross_site)
    wrong_method = client.get("/ui/login")
    assert wrong_method.status_code == 405
    assert_not_frameable(wrong_method)
    client.post("/ui/login", data={"api_key": tenant.key.api_key})
    unknown = client.get("/ui/projects/no-such-project")
    assert unknown.status_code == 404
    assert_not_frameable(unknown)


def test_the_dashboard_policy_lets_its_own_stylesheet_and_forms_work(client: TestClient) -> None:
    policy = client.get("/ui").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["style-src"] == "'self'"  # /static/jobtrail.css
    assert directives["form-action"] == "'self'"  # /ui/login, /ui/logout, the filters
    assert directives["default-src"] == "'none'"  # no script, no frame, nothing else


def test_no_answer_of_the_server_is_ever_sniffed(client: TestClient, tenant: Tenant) -> None:
    answers = [
        client.get(tenant.url("/jobs"), headers=tenant.headers),  # streamed
        client.get(tenant.url("/jobs?limit=5"), headers=tenant.headers),
        client.get(tenant.url("/jobs/1"), headers=tenant.headers),  # 404
        client.get(tenant.url("/jobs"), headers={"Authorization": "nope"}),  # 401
        client.patch(tenant.url("/jobs/1"), headers=tenant.headers),  # 405
        client.get("/nowhere"),
        client.get("/openapi.json"),
        client.get("/healthz"),
        client.get("/"),
        client.get("/metrics"),  # text/plain: never sniffed into HTML either
        client.get("/static/jobtrail.css"),
        client.post(tenant.url("/users/x"), headers=tenant.headers, content=b"x" * 2_000_000),
    ]
    for answer in answers:
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.request.url

"""The HTTP API over a real HTTP client against the ASGI app, on both backends."""

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services
from domain.job import job_aggregate_id
from infrastructure.settings import Settings
from tests.conftest import Tenant, new_tenant, tomorrows_commands
from tests.scheduling import SchedulingCommands

OPENREPLAY_JOB_FIELDS = {
    "jobId",
    "description",
    "status",
    "projectId",
    "action",
    "referenceId",
    "createdAt",
    "updatedAt",
    "startAt",
    "errors",
}
JOB_FIELDS = OPENREPLAY_JOB_FIELDS | {"dueBy"}  # jobtrail's addition: the response deadline


def schedule(client: TestClient, tenant: Tenant, user_id: str) -> dict[str, object]:
    response = client.delete(
        tenant.url(f"/users/{quote(user_id, safe='')}"), headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    job: dict[str, object] = response.json()["data"]
    return job


def test_deleting_a_user_schedules_a_job_in_openreplays_shape(
    client: TestClient, tenant: Tenant
) -> None:
    job = schedule(client, tenant, "mehdi@openreplay.com")
    assert set(job) == JOB_FIELDS
    assert job["status"] == "scheduled"
    assert job["action"] == "delete_user_data"
    assert job["referenceId"] == "mehdi@openreplay.com"
    assert job["description"] == "Delete user sessions of userId = mehdi@openreplay.com"
    assert job["projectId"] == tenant.project.id
    assert job["createdAt"] == job["updatedAt"]
    assert job["errors"] is None
    assert isinstance(job["jobId"], int) and job["jobId"] > 0
    start_at = job["startAt"]
    assert isinstance(start_at, int) and start_at % 86_400_000 == 0  # a UTC midnight


def test_deleting_an_active_user_again_returns_the_same_job(
    client: TestClient, tenant: Tenant
) -> None:
    assert schedule(client, tenant, "ann") == schedule(client, tenant, "ann")
    assert len(client.get(tenant.url("/jobs"), headers=tenant.headers).json()["data"]) == 1


def test_getting_a_job_returns_it(client: TestClient, tenant: Tenant) -> None:
    job = schedule(client, tenant, "bea")
    response = client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"data": job}


def test_cancelling_a_scheduled_job_returns_it_cancelled(
    client: TestClient, tenant: Tenant
) -> None:
    job = schedule(client, tenant, "cy")
    response = client.delete(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
    assert response.status_code == 200
    cancelled = response.json()["data"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["updatedAt"] >= cancelled["createdAt"]
    fetched = client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers).json()
    assert fetched["data"] == cancelled


def test_cancelling_a_cancelled_job_returns_501(client: TestClient, tenant: Tenant) -> None:
    job = schedule(client, tenant, "dee")
    client.delete(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
    response = client.delete(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
    assert response.status_code == 501
    assert response.json()["errors"]


@pytest.mark.parametrize("ending", ["complete", "fail"])
def test_cancelling_a_finished_job_returns_501(
    client: TestClient, tenant: Tenant, app_services: Services, ending: str
) -> None:
    job_id = int(schedule(client, tenant, f"eve-{ending}")["jobId"])  # type: ignore[call-overload]
    worker = tomorrows_commands(app_services)
    worker.start(job_id, "worker:test")
    if ending == "complete":
        worker.complete(job_id, "worker:test", 1)
    else:
        worker.fail(job_id, "worker:test", 1, "boom")
    response = client.delete(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
    assert response.status_code == 501
    assert "cannot be cancelled" in response.json()["errors"][0]
    assert client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers).json()["data"][
        "status"
    ] == ("completed" if ending == "complete" else "failed")


def test_cancelling_a_running_job_returns_200(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    job_id = int(schedule(client, tenant, "fay")["jobId"])  # type: ignore[call-overload]
    tomorrows_commands(app_services).start(job_id, "worker:test")
    response = client.delete(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"


@pytest.mark.parametrize(
    "job_id", ["999999", "abc", "-1", "0", "1.5", "99999999999999999999999", "%20"]
)
def test_an_unknown_or_malformed_job_id_returns_404(
    client: TestClient, tenant: Tenant, job_id: str
) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
        assert response.status_code == 404
        assert response.json() == {"errors": ["Job not found."]}


def test_a_job_of_another_project_is_not_found(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    other = Tenant(tenant.key, app_services.tenancy.create_project("other"))
    job = schedule(client, tenant, "gus")
    for method in ("GET", "DELETE"):
        response = client.request(method, other.url(f"/jobs/{job['jobId']}"), headers=other.headers)
        assert response.status_code == 404
    assert (
        client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers).json()["data"][
            "status"
        ]
        == "scheduled"
    )


def test_listing_returns_every_job_newest_first(client: TestClient, tenant: Tenant) -> None:
    ids = [schedule(client, tenant, f"user-{n}")["jobId"] for n in range(5)]
    client.delete(tenant.url(f"/jobs/{ids[1]}"), headers=tenant.headers)
    body = client.get(tenant.url("/jobs"), headers=tenant.headers).json()
    assert [job["jobId"] for job in body["data"]] == list(reversed(ids))
    assert {job["status"] for job in body["data"]} == {"scheduled", "cancelled"}


def test_listing_paginates_and_filters_by_status(client: TestClient, tenant: Tenant) -> None:
    ids = [schedule(client, tenant, f"p-{n}")["jobId"] for n in range(7)]
    for job_id in ids[:3]:
        client.delete(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
    newest_first = list(reversed(ids))

    def listed(query: str) -> list[object]:
        response = client.get(tenant.url(f"/jobs?{query}"), headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [job["jobId"] for job in response.json()["data"]]

    assert listed("limit=3") == newest_first[:3]
    assert listed("limit=3&page=2") == newest_first[3:6]
    assert listed("limit=3&page=3") == newest_first[6:]
    assert listed("limit=3&page=4") == []
    assert listed("status=cancelled") == list(reversed(ids[:3]))
    assert listed("status=scheduled&limit=2") == newest_first[:2]
    assert listed("page=1") == newest_first  # a page without a limit has 50 jobs


def test_listing_without_a_limit_streams_past_one_batch(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    def schedule(n: int) -> None:
        SchedulingCommands.of(app_services).schedule_user_deletion(
            tenant.project.id, f"bulk-{n}", "k"
        )

    # Concurrent requests share appends (group commit): a sequential loop is 30 s on PostgreSQL.
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(schedule, range(1205)))
    with client.stream("GET", tenant.url("/jobs"), headers=tenant.headers) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        body = b"".join(response.iter_bytes())
    ids = [job["jobId"] for job in json.loads(body)["data"]]
    assert len(ids) == 1205
    assert ids == sorted(ids, reverse=True)


def test_an_empty_project_lists_no_jobs(client: TestClient, tenant: Tenant) -> None:
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).json() == {"data": []}


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=-1",
        "page=0",
        "page=x",
        "status=done",
        "limit=1.5",
        "page=99999999999999999999",
    ],
)
def test_a_malformed_listing_query_returns_400(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    response = client.get(tenant.url(f"/jobs?{query}"), headers=tenant.headers)
    assert response.status_code == 400
    assert response.json()["errors"]


@pytest.mark.parametrize("user_id", ["", "x" * 257])
def test_an_empty_or_overlong_user_id_returns_400_and_schedules_nothing(
    client: TestClient, tenant: Tenant, user_id: str
) -> None:
    response = client.delete(tenant.url(f"/users/{user_id}"), headers=tenant.headers)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).json() == {"data": []}


@pytest.mark.parametrize("raw_user_id", ["%FF", "a%00b", "%C3%28"])
def test_a_user_id_that_is_not_clean_utf8_returns_400_and_schedules_nothing(
    client: TestClient, tenant: Tenant, raw_user_id: str
) -> None:
    response = client.delete(tenant.url(f"/users/{raw_user_id}"), headers=tenant.headers)
    assert response.status_code == 400
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).json() == {"data": []}


def test_a_genuine_replacement_character_in_a_user_id_is_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    assert schedule(client, tenant, "a\ufffdb")["referenceId"] == "a\ufffdb"


@pytest.mark.parametrize(
    "user_id",
    ["o'brien; DROP TABLE jobs;--", "../../etc/passwd", "100%_*", "名前🙂", "a/b/c", "u" * 256],
)
def test_awkward_user_ids_are_kept_exactly(
    client: TestClient, tenant: Tenant, user_id: str
) -> None:
    job = schedule(client, tenant, user_id)
    assert job["referenceId"] == user_id
    assert job["description"] == f"Delete user sessions of userId = {user_id}"


def test_the_key_may_be_sent_raw_or_as_a_bearer_token(client: TestClient, tenant: Tenant) -> None:
    for header in (tenant.key.api_key, f"Bearer {tenant.key.api_key}"):
        response = client.get(tenant.url("/jobs"), headers={"Authorization": header})
        assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "nonsense"},
        {"Authorization": "Bearer "},
        {"Authorization": "jt_unknown_secret"},
    ],
)
def test_a_missing_or_wrong_key_returns_401(
    client: TestClient, tenant: Tenant, headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/jobs"),
        ("GET", "/jobs/1"),
        ("DELETE", "/jobs/1"),
        ("DELETE", "/users/u"),
    ):
        response = client.request(method, tenant.url(path), headers=headers)
        assert response.status_code == 401
        assert response.json() == {"errors": ["Invalid API Key"]}


def test_a_right_key_id_with_a_wrong_secret_returns_401(client: TestClient, tenant: Tenant) -> None:
    forged = tenant.key.api_key[:-3] + "xyz"
    response = client.get(tenant.url("/jobs"), headers={"Authorization": forged})
    assert response.status_code == 401


def test_an_unknown_project_returns_404(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/api/v1/NoSuchProjectKey/jobs", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json() == {"errors": ["Project not found."]}


def test_a_key_never_reaches_another_organizations_project(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    other = new_tenant(app_services, "Other Org")
    job = schedule(client, other, "victim")
    intruder = Tenant(tenant.key, other.project)
    for method, path in (
        ("GET", "/jobs"),
        ("GET", f"/jobs/{job['jobId']}"),
        ("DELETE", f"/jobs/{job['jobId']}"),
        ("DELETE", "/users/victim2"),
    ):
        response = client.request(method, intruder.url(path), headers=intruder.headers)
        assert response.status_code == 404
        assert response.json() == {"errors": ["Project not found."]}
    listed = client.get(other.url("/jobs"), headers=other.headers).json()["data"]
    assert [(j["jobId"], j["status"]) for j in listed] == [(job["jobId"], "scheduled")]


def test_an_unknown_route_returns_json_404(client: TestClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"errors": ["Not Found"]}


def test_a_wrong_method_returns_json_405(client: TestClient, tenant: Tenant) -> None:
    response = client.post(tenant.url("/jobs"), headers=tenant.headers)
    assert response.status_code == 405
    assert response.json() == {"errors": ["Method Not Allowed"]}


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_openapi_document_describes_every_endpoint(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths["/api/v1/{projectKey}/jobs"]) == {"get"}
    assert set(paths["/api/v1/{projectKey}/jobs/{jobId}"]) == {"get", "delete"}
    assert set(paths["/api/v1/{projectKey}/users/{userId}"]) == {"delete"}
    assert set(paths["/api/v1/{projectKey}/users/{userId}/sessions"]) == {"get"}
    assert "501" in paths["/api/v1/{projectKey}/jobs/{jobId}"]["delete"]["responses"]
    assert "/healthz" in paths
    job_schema = document["components"]["schemas"]["JobView"]
    assert set(job_schema["properties"]) == JOB_FIELDS


def test_a_write_on_one_api_process_is_visible_at_once_on_another(
    settings: Settings, tenant: Tenant, client: TestClient
) -> None:
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as second:
        for n in range(10):
            job = schedule(client, tenant, f"ryw-{n}")
            seen = second.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
            assert seen.status_code == 200
            assert seen.json()["data"] == job
            cancelled = client.delete(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
            seen = second.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers)
            assert seen.json()["data"] == cancelled.json()["data"]


def test_get_reads_the_read_model_not_the_aggregate(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    job = schedule(client, tenant, "only-in-log")
    aggregate = app_services.log.job(int(job["jobId"]))  # type: ignore[call-overload]
    assert aggregate is not None and aggregate.id == job_aggregate_id(int(job["jobId"]))  # type: ignore[call-overload]
    # Saved to the log without projecting: GET must not see it until the projection runs.
    aggregate.cancel(actor="test", at=aggregate.modified_on)
    app_services.log.save(aggregate)
    before = client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers).json()["data"]
    assert before["status"] == "scheduled"
    app_services.projector.catch_up()
    after = client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers).json()["data"]
    assert after["status"] == "cancelled"

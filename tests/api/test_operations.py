"""Operating jobtrail: metrics, request ids, structured logs, the API docs page."""

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services
from api.logs import configure_logging
from infrastructure.session_store import seed_sessions
from infrastructure.settings import Settings
from tests.conftest import Tenant, new_tenant
from tests.scheduling import SchedulingCommands


@pytest.fixture
def running_now(settings: Settings) -> Settings:
    return Settings(database_url=settings.database_url, deletion_delay=timedelta(0))


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = (
        rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$"
        if labels
        else rf"^{re.escape(name)} (\S+)$"
    )
    found = re.search(pattern, text, flags=re.M)
    assert found, f"{name}{labels} not in metrics"
    return float(found.group(1))


def test_metrics_report_jobs_lag_requests_and_worker_progress(
    running_now: Settings, tmp_path: object
) -> None:
    with TestClient(create_app(running_now, follow_projection=False, run_worker=False)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        tenant = new_tenant(services)
        seed_sessions(services.database, tenant.project.id, ["m1", "m2"], 7, None)
        for user in ("m1", "m2", "m3"):
            client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers)
        cancelled = client.delete(tenant.url("/users/m3"), headers=tenant.headers).json()["data"][
            "jobId"
        ]
        client.delete(tenant.url(f"/jobs/{cancelled}"), headers=tenant.headers)
        worker = services.worker(threading.Event(), observe=client.app.state.metrics.observe_batch)  # type: ignore[attr-defined]
        worker.run_due_jobs()
        client.get(tenant.url("/jobs/999999"), headers=tenant.headers)
        lagging = SchedulingCommands.of(services, after_write=lambda position: None)
        lagging.schedule_user_deletion(tenant.project.id, "lagging", "key:k")

        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
    assert metric(text, "jobtrail_jobs", status="completed") == 2
    assert metric(text, "jobtrail_jobs", status="cancelled") == 1
    assert metric(text, "jobtrail_projection_lag_events", projection="jobs") == 3
    assert metric(text, "jobtrail_projection_stopped", projection="jobs") == 0
    route = "/api/v1/{projectKey}/users/{userId}"
    assert (
        metric(text, "jobtrail_http_requests_total", method="DELETE", route=route, status="200")
        == 4
    )
    assert (
        metric(
            text,
            "jobtrail_http_requests_total",
            method="GET",
            route="/api/v1/{projectKey}/jobs/{jobId}",
            status="404",
        )
        == 1
    )
    assert "jobtrail_http_request_duration_seconds_bucket" in text
    assert metric(text, "jobtrail_worker_batches_total") >= 2
    assert metric(text, "jobtrail_deleted_total", target="sessions") == 14


def test_every_response_carries_a_request_id(client: TestClient, tenant: Tenant) -> None:
    first = client.get(tenant.url("/jobs"), headers=tenant.headers)
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    chosen = client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert chosen.headers["x-request-id"] == "trace-42.a"
    hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 200})
    assert hostile.headers["x-request-id"] != "x" * 200


@contextmanager
def captured_logs(monkeypatch: pytest.MonkeyPatch, form: str, level: str) -> Iterator[io.StringIO]:
    """The service's logging, configured as an operator would, into a string."""
    stream = io.StringIO()
    monkeypatch.setenv("JOBTRAIL_LOG_FORMAT", form)
    monkeypatch.setenv("JOBTRAIL_LOG_LEVEL", level)
    configure_logging(Settings.from_env(), stream)
    try:
        yield stream
    finally:
        logging.getLogger().handlers.clear()


def test_logs_are_json_lines_with_request_key_and_job_ids(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with captured_logs(monkeypatch, "json", "INFO") as stream:
        job_id = client.delete(tenant.url("/users/logged"), headers=tenant.headers).json()["data"][
            "jobId"
        ]
        response = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "jobtrail.access"]
    last = access[-1]
    assert last["route"] == "/api/v1/{projectKey}/jobs/{jobId}"
    assert last["status"] == 200 and last["job_id"] == str(job_id)
    assert last["key_id"] == tenant.key.key_id
    assert last["request_id"] == response.headers["x-request-id"]
    assert {"time", "level", "message"} <= set(last)
    assert tenant.key.api_key not in stream.getvalue()
    assert "logged" not in json.dumps(access)  # the user id is in the path, never in the log


def test_the_log_level_and_a_plain_format_are_configurable(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with captured_logs(monkeypatch, "plain", "WARNING") as stream:
        client.get(tenant.url("/jobs"), headers=tenant.headers)
        logging.getLogger("jobtrail.test").warning("plain words")
    output = stream.getvalue()
    assert "jobtrail.access" not in output
    assert "WARNING jobtrail.test plain words" in output
    assert not output.lstrip().startswith("{")


def test_the_api_docs_page_describes_every_endpoint_with_local_assets_only(
    client: TestClient,
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    document = client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in page.text
    assert "JobView" in page.text and "501" in page.text
    for reference in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert not reference.startswith(("http:", "https:", "//")), reference
    assert client.get("/static/jobtrail.css").status_code == 200
    assert '<html lang="en">' in page.text and 'name="viewport"' in page.text

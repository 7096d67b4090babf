"""The response deadline over HTTP, on both backends: dueBy beside OpenReplay's
fields (after an extension too), and the deadlines in /metrics."""

import re
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from api.composition import Services
from application.deadlines import Deadlines
from application.epoch import epoch_ms
from domain.deadline import LATEST, ONE_MONTH
from infrastructure.job_ids import SqlJobIdAllocator
from tests.clocks import SteppingClock
from tests.conftest import Tenant
from tests.scheduling import SchedulingCommands


def commands_at(services: Services, moment: datetime) -> tuple[SchedulingCommands, SteppingClock]:
    clock = SteppingClock(moment)
    commands = SchedulingCommands(
        services.log,
        SqlJobIdAllocator(services.database),
        clock,
        timedelta(0),
        after_write=lambda position: services.projector.wait_for(position, 10),
    )
    return commands, clock


def test_a_job_says_when_its_request_must_be_answered(client: TestClient, tenant: Tenant) -> None:
    job = client.delete(tenant.url("/users/alice"), headers=tenant.headers).json()["data"]
    created = datetime.fromtimestamp(job["createdAt"] / 1000, UTC)
    assert job["dueBy"] == epoch_ms(ONE_MONTH.after(created))
    shown = client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers).json()
    assert shown["data"]["dueBy"] == job["dueBy"]
    [listed] = client.get(tenant.url("/jobs"), headers=tenant.headers).json()["data"]
    assert listed["dueBy"] == job["dueBy"]


def test_an_extended_deadline_is_the_one_the_api_shows(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    job = client.delete(tenant.url("/users/bob"), headers=tenant.headers).json()["data"]
    commands, clock = commands_at(app_services, datetime.now(UTC))
    Deadlines(commands, app_services.read_model, clock).extend(
        job["jobId"], "operator:ann", "Backups must be restored first."
    )
    shown = client.get(tenant.url(f"/jobs/{job['jobId']}"), headers=tenant.headers).json()["data"]
    created = datetime.fromtimestamp(job["createdAt"] / 1000, UTC)
    assert shown["dueBy"] == epoch_ms(LATEST.after(created))
    assert shown["updatedAt"] > job["updatedAt"]
    assert {k: v for k, v in shown.items() if k not in ("dueBy", "updatedAt")} == {
        k: v for k, v in job.items() if k not in ("dueBy", "updatedAt")
    }


def test_the_openapi_document_describes_dueBy(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["JobView"]
    assert schema["properties"]["dueBy"]["type"] == "integer"
    assert "GDPR Art. 12(3)" in schema["properties"]["dueBy"]["description"]
    assert "dueBy" in schema["required"]


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    found = re.search(pattern, text, flags=re.M)
    assert found, f"{name}{labels} not in metrics"
    return float(found.group(1))


def test_metrics_count_overdue_and_soon_due_jobs_and_time_to_completion(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    now = datetime.now(UTC)
    project = tenant.project.id
    old, old_clock = commands_at(app_services, now - timedelta(days=40))
    overdue = old.schedule_user_deletion(project, "overdue", "key:k").job.job_id
    late = old.schedule_user_deletion(project, "late", "key:k").job.job_id
    quick = old.schedule_user_deletion(project, "quick", "key:k").job.job_id
    for job_id, took in ((quick, timedelta(hours=30)), (late, timedelta(days=35))):
        old_clock.current = now - timedelta(days=40) + took
        old.start(job_id, "worker:w", old_clock.current + timedelta(minutes=1))
        old.complete(job_id, "worker:w", 1, {"sessions": 0})
    recent, _ = commands_at(app_services, now - timedelta(days=25))
    recent.schedule_user_deletion(project, "soon", "key:k")  # due in about 5 days
    client.delete(tenant.url("/users/fresh"), headers=tenant.headers)  # due in a month

    text = client.get("/metrics").text

    assert overdue and metric(text, "jobtrail_jobs_overdue") == 1
    assert metric(text, "jobtrail_jobs_due_soon") == 1
    assert metric(text, "jobtrail_jobs_answered_late") == 1
    histogram = "jobtrail_request_to_completion_seconds"
    assert metric(text, f"{histogram}_bucket", le="86400") == 0
    assert metric(text, f"{histogram}_bucket", le="172800") == 1  # 30 hours
    assert metric(text, f"{histogram}_bucket", le="2.6784e+06") == 1  # 31 days
    assert metric(text, f"{histogram}_bucket", le="5.3568e+06") == 2  # 62 days
    assert metric(text, f"{histogram}_bucket", le="+Inf") == 2
    assert metric(text, f"{histogram}_count") == 2
    assert 36 * 86_400 < metric(text, f"{histogram}_sum") < 36.5 * 86_400

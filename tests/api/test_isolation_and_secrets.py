"""Organizations are isolated on every endpoint, and API keys never leak."""

import hmac
import logging
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from starlette.testclient import TestClient

from api.composition import Services
from application.job_records import JobRow
from infrastructure.session_store import seed_sessions
from tests.conftest import Tenant, new_tenant

VICTIM_USER = "victim.secret@example.com"


def endpoints(job_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/jobs"),
        ("GET", "/jobs?limit=5"),
        ("GET", f"/jobs/{job_id}"),
        ("GET", f"/jobs/{job_id}?version=1"),
        ("GET", f"/jobs/{job_id}/events"),
        ("DELETE", f"/jobs/{job_id}"),
        ("DELETE", f"/users/{VICTIM_USER}"),
        ("DELETE", "/users/new-user"),
        ("GET", f"/users/{VICTIM_USER}/sessions"),
    ]


@pytest.fixture
def victim(client: TestClient, app_services: Services, tmp_path: Path) -> tuple[Tenant, int]:
    tenant = new_tenant(app_services, "Victim Org")
    response = client.delete(tenant.url(f"/users/{VICTIM_USER}"), headers=tenant.headers)
    seed_sessions(app_services.database, tenant.project.id, [VICTIM_USER], 3, tmp_path)
    return tenant, response.json()["data"]["jobId"]


def snapshot(app_services: Services, tenant: Tenant) -> tuple[int, list[JobRow]]:
    app_services.projector.catch_up()
    jobs = [j for j in app_services.read_model.every_job() if j.project_id == tenant.project.id]
    return app_services.log.head(), jobs


@pytest.mark.parametrize("who", ["no key", "wrong key", "key of another organization"])
def test_no_endpoint_gives_or_changes_another_organizations_data(
    client: TestClient, app_services: Services, victim: tuple[Tenant, int], tenant: Tenant, who: str
) -> None:
    target, job_id = victim
    headers = {
        "no key": {},
        "wrong key": {"Authorization": target.key.api_key[:-4] + "AAAA"},
        "key of another organization": {"Authorization": tenant.key.api_key},
    }[who]
    expected = {"no key": 401, "wrong key": 401, "key of another organization": 404}[who]
    before = snapshot(app_services, target)
    for method, path in endpoints(job_id):
        response = client.request(method, target.url(path), headers=headers)
        assert response.status_code == expected, (method, path, response.text)
        assert response.json() in (
            {"errors": ["Invalid API Key"]},
            {"errors": ["Project not found."]},
        )
        assert VICTIM_USER not in response.text
    assert snapshot(app_services, target) == before


def test_the_owner_still_reaches_everything(client: TestClient, victim: tuple[Tenant, int]) -> None:
    target, job_id = victim
    for method, path in endpoints(job_id):
        response = client.request(method, target.url(path), headers=target.headers)
        assert response.status_code in (200, 501), (method, path, response.text)


def test_keys_are_stored_only_as_hashes(
    client: TestClient, app_services: Services, tenant: Tenant
) -> None:
    client.delete(tenant.url("/users/someone"), headers=tenant.headers)
    secret = tenant.key.api_key.split("_")[2]
    tables = MetaData()
    tables.reflect(app_services.database.engine)
    with app_services.database.reader() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(select(table)):
                assert not any(secret in str(value) for value in row), table.name


def test_keys_never_reach_logs_or_errors_and_logs_name_the_key_id(
    client: TestClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = tenant.key.api_key[:-6] + "ZZZZZZ"
    with caplog.at_level(logging.DEBUG):
        client.get(tenant.url("/jobs"), headers=tenant.headers)
        client.delete(
            tenant.url("/users/x"), headers={"Authorization": f"Bearer {tenant.key.api_key}"}
        )
        denied = client.get(tenant.url("/jobs"), headers={"Authorization": wrong})
        client.get(tenant.url("/jobs/999"), headers=tenant.headers)
    assert denied.json() == {"errors": ["Invalid API Key"]}
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    for secret in (tenant.key.api_key, tenant.key.api_key.split("_")[2], wrong.split("_")[2]):
        assert secret not in logged
    access = [r for r in caplog.records if r.name == "jobtrail.access"]
    assert access and all(r.key_id in (tenant.key.key_id, None) for r in access)  # type: ignore[attr-defined]
    assert any(r.key_id == tenant.key.key_id for r in access)  # type: ignore[attr-defined]


def test_every_key_check_runs_the_constant_time_comparison(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)
    for header in (tenant.key.api_key, "jt_unknownkeyid_secret", tenant.key.api_key + "x"):
        client.get(tenant.url("/jobs"), headers={"Authorization": header})
    assert len(calls) == 3

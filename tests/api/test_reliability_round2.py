"""Reliability and security, round 2: a damaged event contained, hostile bytes,
keys that can be revoked, and the edges of HTTP, over a real ASGI client."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from sqlalchemy import Executable, text
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services
from application.epoch import epoch_ms
from domain.job import job_aggregate_id
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from infrastructure.tenancy_store import KEY
from tests.conftest import Tenant, new_tenant
from tests.scheduling import SchedulingCommands


def schedule(client: TestClient, tenant: Tenant, user: str) -> int:
    response = client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers)
    assert response.status_code == 200, response.text
    job_id: int = response.json()["data"]["jobId"]
    return job_id


def damage(services: Services, job_id: int, version: int = 1) -> int:
    """Overwrites one stored event of the job with bytes no decoder takes; returns its
    position in the log."""
    table = services.database.url.events_table
    sqlite = services.database.backend == "sqlite"
    position = "rowid" if sqlite else "notification_id"
    aggregate = ":a" if sqlite else "CAST(:a AS uuid)"
    where = f"originator_id = {aggregate} AND originator_version = :v"
    aggregate_id = job_aggregate_id(job_id)
    values = {"a": aggregate_id.hex if sqlite else str(aggregate_id), "v": version}
    with services.database.writer() as conn:
        conn.execute(text(f"UPDATE {table} SET state = :s WHERE {where}"), {**values, "s": b"{"})
        found: int = conn.execute(
            text(f"SELECT {position} FROM {table} WHERE {where}"), values
        ).scalar_one()
    return found


@pytest.mark.parametrize("damaged_version", [1, 2], ids=["scheduled", "cancelled"])
def test_a_damaged_event_answers_409_for_its_job_and_no_other(
    client: TestClient,
    tenant: Tenant,
    app_services: Services,
    settings: Settings,
    damaged_version: int,
) -> None:
    bystander = schedule(client, tenant, "bystander@example.com")
    # Written straight to the log, and damaged before the projection meets it.
    quiet = SchedulingCommands(
        app_services.log, SqlJobIdAllocator(app_services.database), app_services.clock, None
    )
    victim = quiet.schedule_user_deletion(tenant.project.id, "victim@example.com", "k").job.job_id
    quiet.cancel(tenant.project.id, victim, "k")  # version 2
    damage(app_services, victim, damaged_version)
    later = schedule(client, tenant, "later@example.com")
    app_services.projector.catch_up()  # the projection goes on, as its follower would
    # A process that has not read the job before (this one caches what it loaded).
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as fresh:
        if damaged_version == 1:
            # Its first event is unreadable: nobody can tell whose job it was, so it
            # is not found, for its own organization as for any other.
            answers_for_the_damaged_job(fresh, tenant, victim, 404)
        else:
            answers_for_the_damaged_job(fresh, tenant, victim, 409)
            other = new_tenant(fresh.app.state.services, "Other")  # type: ignore[attr-defined]
            answers_for_the_damaged_job(fresh, other, victim, 404)
        for job_id in (bystander, later):
            response = fresh.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
            assert response.status_code == 200
        again = fresh.delete(tenant.url("/users/victim@example.com"), headers=tenant.headers)
        assert again.status_code == 200
        assert again.json()["data"]["jobId"] not in (victim, bystander, later)


def answers_for_the_damaged_job(
    client: TestClient, tenant: Tenant, victim: int, status: int
) -> None:
    for method, path in [
        ("GET", f"/jobs/{victim}"),
        ("GET", f"/jobs/{victim}/events"),
        ("GET", f"/jobs/{victim}?version=1"),
        ("DELETE", f"/jobs/{victim}"),
    ]:
        response = client.request(method, tenant.url(path), headers=tenant.headers)
        assert response.status_code == status, (path, response.text)
        if status == 409:
            assert "damaged" in response.json()["errors"][0]


def test_a_user_whose_active_job_is_damaged_can_be_scheduled_again(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    stuck = schedule(client, tenant, "stuck@example.com")
    damage(app_services, stuck)
    fresh = schedule(client, tenant, "stuck@example.com")
    assert fresh != stuck
    assert schedule(client, tenant, "stuck@example.com") == fresh  # one active job again


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/a%00b/jobs",
        "/api/v1/{project}/jobs/1?version=%00",
        "/api/v1/{project}/users/a%00b",
        "/api/v1/{project}/users/a%00b/sessions",
    ],
)
def test_nul_bytes_never_reach_the_database(
    client: TestClient, tenant: Tenant, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = path.format(project=tenant.project.project_key)
    for method in ("GET", "DELETE"):
        response = client.request(method, path, headers=tenant.headers)
        assert response.status_code in (400, 401, 404, 405), response.text
        assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in caplog.text


def test_a_nul_in_a_key_is_an_invalid_key(client: TestClient, tenant: Tenant) -> None:
    for key in ("jt_a\x00b_c", f"{tenant.key.api_key}\x00"):
        response = client.get(tenant.url("/jobs"), headers={"Authorization": key})
        assert response.status_code == 401
    signed = client.post("/ui/login", data={"api_key": "jt_a\x00b_c"}, follow_redirects=False)
    assert signed.status_code == 401


@pytest.mark.parametrize(
    "user", ["a\nb", "a\rb", "tab\there", "nul\x00", "nel\u0085x", "line\u2028sep"]
)
def test_a_user_id_with_a_control_character_gets_a_400_naming_the_problem(
    client: TestClient, tenant: Tenant, user: str
) -> None:
    encoded = quote(user, safe="")
    for method, path in [("DELETE", f"/users/{encoded}"), ("GET", f"/users/{encoded}/sessions")]:
        response = client.request(method, tenant.url(path), headers=tenant.headers)
        assert response.status_code == 400, (path, response.status_code)
        assert "control characters" in response.json()["errors"][0]


def signed_in(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/ui/login", data={"api_key": tenant.key.api_key}, follow_redirects=False
    )
    assert response.status_code == 303


@pytest.mark.parametrize("query", ["/jobs/%C2%B9", "?page=%C2%B2", "?user=%00", "/jobs/%D9%A3"])
def test_the_dashboard_answers_odd_digits_and_bytes_without_a_500(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    signed_in(client, tenant)
    response = client.get(f"/ui/projects/{tenant.project.project_key}{query}")
    assert response.status_code in (200, 400, 404)


def test_a_revoked_key_is_refused_at_once_and_its_dashboard_logins_end(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    signed_in(client, tenant)
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).status_code == 200
    app_services.tenancy.revoke_key(tenant.key.key_id)
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).status_code == 401
    assert 'name="api_key"' in client.get("/ui").text
    [listed] = [k for k in app_services.tenancy.list_keys() if k.key_id == tenant.key.key_id]
    assert listed.revoked_at is not None


def test_a_rotated_key_works_through_its_grace_period_then_stops(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    new = app_services.tenancy.rotate_key(tenant.key.key_id, grace_seconds=3600)
    fresh = {"Authorization": new.api_key}
    assert client.get(tenant.url("/jobs"), headers=tenant.headers).status_code == 200
    assert client.get(tenant.url("/jobs"), headers=fresh).status_code == 200
    app_services.tenancy.rotate_key(new.key_id, grace_seconds=0)
    assert client.get(tenant.url("/jobs"), headers=fresh).status_code == 401


def test_signing_out_ends_the_login_for_every_copy_of_the_cookie(
    client: TestClient, tenant: Tenant
) -> None:
    signed_in(client, tenant)
    copied = client.cookies["jobtrail_session"]
    client.post("/ui/logout")
    client.cookies.set("jobtrail_session", copied)
    assert 'name="api_key"' in client.get("/ui").text


def test_a_cross_site_form_post_is_refused(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/ui/login",
        data={"api_key": tenant.key.api_key},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "jobtrail_session" not in response.cookies
    same = client.post(
        "/ui/login",
        data={"api_key": tenant.key.api_key},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same.status_code == 303
    behind_a_tls_proxy = client.post(
        "/ui/login",
        data={"api_key": tenant.key.api_key},
        headers={"Origin": "https://testserver"},
        follow_redirects=False,
    )
    assert behind_a_tls_proxy.status_code == 303


def test_an_unknown_key_or_project_is_looked_up_once_per_cache_period(
    client: TestClient, app_services: Services, tenant: Tenant
) -> None:
    """Misses are remembered like hits, so a probe costs the same either way."""
    looked_up: list[object] = []
    reads = app_services.reads
    original = reads.rows

    async def counted(statement: Executable, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        if statement is KEY:
            looked_up.append(values["key_id"])
        return await original(statement, values)

    reads.rows = counted  # type: ignore[method-assign]
    try:
        for _ in range(5):
            unknown = {**tenant.headers, "Authorization": "jt_nosuchkey_secret"}
            assert client.get(tenant.url("/jobs?limit=1"), headers=unknown).status_code == 401
            assert client.get(tenant.url("/jobs?limit=1"), headers=tenant.headers).is_success
    finally:
        del reads.rows
    assert looked_up.count("nosuchkey") == 1
    assert looked_up.count(tenant.key.key_id) == 1


def test_a_chunked_body_over_the_limit_is_refused(client: TestClient, tenant: Tenant) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1024

    response = client.request(
        "DELETE",
        tenant.url("/users/chunky@example.com"),
        headers=tenant.headers,
        content=chunks(),  # type: ignore[arg-type]
    )
    assert response.status_code == 413
    assert response.json() == {"errors": ["Request body too large."]}
    listing = client.get(tenant.url("/jobs"), headers=tenant.headers).json()["data"]
    assert listing == []


def test_healthz_says_read_only_when_writes_cannot_happen(
    client: TestClient, app_services: Services, tmp_path: Path
) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    if app_services.database.backend == "postgresql":
        from infrastructure.database import Database, parse_database_url
        from tests.conftest import postgres_admin_url

        read_only = Database(
            parse_database_url(
                f"{postgres_admin_url()}?options=-c%20default_transaction_read_only%3Don"
            )
        )
        try:
            assert read_only.health() == "read-only"
        finally:
            read_only.dispose()
        return
    import subprocess

    database_file = Path(app_services.database.url.eventsourcing_env["SQLITE_DBNAME"])
    if subprocess.run(["chattr", "+i", str(database_file)], check=False).returncode != 0:
        pytest.skip("this file system cannot make a file immutable")
    try:
        app_services.database.dispose()  # new connections open the file read-only
        response = client.get("/healthz")
    finally:
        subprocess.run(["chattr", "-i", str(database_file)], check=True)
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "read-only"}


def test_other_tenants_keys_are_untouched_by_a_revocation(
    client: TestClient, tenant: Tenant, app_services: Services
) -> None:
    other = new_tenant(app_services, "Other")
    app_services.tenancy.revoke_key(tenant.key.key_id)
    assert client.get(other.url("/jobs"), headers=other.headers).status_code == 200


def test_a_database_error_never_carries_the_statements_parameters(app_services: Services) -> None:
    secret_user = "someone.private@example.com"
    with pytest.raises(Exception) as failed, app_services.database.reader() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE user_id = :u"), {"u": secret_user})
    assert secret_user not in str(failed.value)


def test_the_root_says_where_to_go(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json()["docs"] == "/docs" and response.json()["dashboard"] == "/ui"


def test_a_trailing_slash_is_a_json_404_not_an_empty_redirect(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get(tenant.url("/jobs/"), headers=tenant.headers, follow_redirects=False)
    assert response.status_code == 404
    assert response.json()["errors"]


def test_the_dashboard_says_its_times_are_utc(client: TestClient, tenant: Tenant) -> None:
    schedule(client, tenant, "timed@example.com")
    signed_in(client, tenant)
    assert " UTC" in client.get(f"/ui/projects/{tenant.project.project_key}").text


def test_pools_take_their_size_from_the_settings(settings: Settings) -> None:
    from api.composition import build_services

    built = build_services(msgspec.structs.replace(settings, pool_size=2, pool_max_overflow=1))
    try:
        pool: Any = built.database.engine.pool
        assert pool.size() + pool._max_overflow == 3  # at most pool size + overflow
    finally:
        built.close()


def test_a_damaged_job_is_never_handed_to_a_worker(
    client: TestClient, tenant: Tenant, app_services: Services, settings: Settings
) -> None:
    from api.composition import build_services

    quick = build_services(msgspec.structs.replace(settings, deletion_delay=timedelta(0)))
    try:
        quiet = SchedulingCommands(
            quick.log, SqlJobIdAllocator(quick.database), quick.clock, timedelta(0)
        )
        started = quiet.schedule_user_deletion(tenant.project.id, "broken@example.com", "k")
        job_id = started.job.job_id
        quiet.start(job_id, "worker:w", quick.clock.now() + timedelta(seconds=1))
        damage(quick, job_id, version=2)
        fine = quiet.schedule_user_deletion(tenant.project.id, "fine@example.com", "k")
        quick.projector.catch_up()
        later = epoch_ms(quick.clock.now() + timedelta(days=2))
        due = [d.job_id for d in quick.read_model.due(later, 100)]
        assert job_id not in due and fine.job.job_id in due
    finally:
        quick.close()

"""Replacing OpenReplay's jobs API: import an installation, then delete a user's
sessions, their event rows and their recordings, exactly.

OpenReplay's side is real: a PostgreSQL database shaped like an installation's
(tenants, projects, sessions, and event tables in the `events` and
`events_common` schemas that reference sessions ON DELETE CASCADE), and moto's
S3 server holding three mob files per session. jobtrail's own database runs on
both backends.
"""

import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services, build_services
from application.runner import RunResult
from domain.lifecycle import JobStatus
from infrastructure.settings import Settings
from tests.conftest import postgres_admin_url, require_postgres
from tests.process.conftest import jobtrail
from tests.s3_server import fresh_bucket, moto_server, put_objects, reset

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "mobs"
MOBS = ("dom.mobs", "dom.mobe", "devtools.mob")
KEY_A, KEY_B = "orKeyTenantA7x9Q2mW4z", "orKeyTenantB3k8L1pV6n"
# (project, user, sessions): the deletion is alice's in project 7, nothing else.
SESSIONS = [
    (7, "alice@shop.example", 500),
    (7, "bob@shop.example", 150),
    (9, "alice@shop.example", 100),
]
FIRST_SESSION = {7: 7_000_000, 9: 9_000_000}

OPENREPLAY_SCHEMA = """
CREATE TABLE public.tenants (
    tenant_id integer PRIMARY KEY, name text NOT NULL, api_key text NOT NULL UNIQUE);
CREATE TABLE public.projects (
    project_id serial PRIMARY KEY, project_key varchar(20) NOT NULL UNIQUE,
    tenant_id integer NOT NULL REFERENCES public.tenants, name text NOT NULL,
    deleted_at timestamp NULL);
CREATE TABLE public.sessions (
    session_id bigint PRIMARY KEY,
    project_id integer NOT NULL REFERENCES public.projects ON DELETE CASCADE,
    user_id text, user_uuid uuid NOT NULL, user_agent text, user_os text NOT NULL,
    user_browser text, user_device text, user_country char(2) NOT NULL,
    start_ts bigint NOT NULL, duration integer, pages_count integer DEFAULT 0,
    events_count integer DEFAULT 0, errors_count integer DEFAULT 0);
CREATE INDEX sessions_project_user ON public.sessions (project_id, user_id);
CREATE SCHEMA events;
CREATE TABLE events.clicks (
    session_id bigint NOT NULL REFERENCES public.sessions ON DELETE CASCADE,
    message_id bigint NOT NULL, timestamp bigint NOT NULL, label text,
    PRIMARY KEY (session_id, message_id));
CREATE TABLE events.pages (
    session_id bigint NOT NULL REFERENCES public.sessions ON DELETE CASCADE,
    message_id bigint NOT NULL, timestamp bigint NOT NULL, path text,
    PRIMARY KEY (session_id, message_id));
CREATE SCHEMA events_common;
CREATE TABLE events_common.requests (
    session_id bigint NOT NULL REFERENCES public.sessions ON DELETE CASCADE,
    timestamp bigint NOT NULL, seq_index integer NOT NULL, url text,
    PRIMARY KEY (session_id, timestamp, seq_index));
"""


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def openreplay_url() -> Iterator[str]:
    """A throwaway database on the shared cluster, shaped like OpenReplay's."""
    require_postgres()
    name = f"openreplay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(OPENREPLAY_SCHEMA)
            conn.execute(
                "INSERT INTO tenants VALUES (1, 'Shop', %s), (2, 'Agency', %s)", (KEY_A, KEY_B)
            )
            conn.execute(
                "INSERT INTO projects VALUES (7, 'shopKey7aaaaaaaaaaaa', 1, 'web', NULL), "
                "(8, 'shopKey8deleted00000', 1, 'old', now()), "
                "(9, 'shopKey9bbbbbbbbbbbb', 1, 'ios', NULL), "
                "(11, 'agencyKey11cccccccc', 2, 'site', NULL)"
            )
            for project, user, count in SESSIONS:
                first = FIRST_SESSION[project] + (
                    0 if user.startswith("alice") or project == 9 else 100_000
                )
                conn.execute(
                    "INSERT INTO sessions (session_id, project_id, user_id, user_uuid, user_os, "
                    "user_country, start_ts, duration) SELECT s, %s, %s, gen_random_uuid(), "
                    "'Linux', 'FR', 1700000000000 + s, 60 FROM generate_series(%s, %s) s",
                    (project, user, first, first + count - 1),
                )
            conn.execute(
                "INSERT INTO events.clicks SELECT session_id, m, start_ts + m, 'buy' "
                "FROM sessions, generate_series(1, 2) m"
            )
            conn.execute(
                "INSERT INTO events.pages SELECT session_id, 3, start_ts, '/cart' FROM sessions"
            )
            conn.execute(
                "INSERT INTO events_common.requests SELECT session_id, start_ts, 1, '/api' "
                "FROM sessions"
            )
        yield url
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def s3(moto: str, monkeypatch: pytest.MonkeyPatch, openreplay_url: str) -> Iterator["S3Client"]:
    client = fresh_bucket(moto, BUCKET, monkeypatch)
    with psycopg.connect(openreplay_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT session_id FROM sessions")]
    keys = [f"{session_id}/{mob}" for session_id in ids for mob in MOBS]
    # Another session whose id starts with one of alice's: it must survive.
    keys.append(f"{FIRST_SESSION[7]}0/dom.mobs")
    put_objects(moto, BUCKET, [(key, b"m") for key in keys])
    yield client
    reset(moto)  # no bucket left, as before the test


def counted(url: str, sql: str) -> dict[tuple[int, str], int]:
    with psycopg.connect(url) as conn:
        return {(p, u): n for p, u, n in conn.execute(sql)}


def sessions_by_owner(url: str) -> dict[tuple[int, str], int]:
    return counted(url, "SELECT project_id, user_id, count(*) FROM sessions GROUP BY 1, 2")


def events_by_owner(url: str) -> dict[tuple[int, str], int]:
    return counted(
        url,
        "SELECT s.project_id, s.user_id, count(*) FROM sessions s JOIN ("
        " SELECT session_id FROM events.clicks UNION ALL SELECT session_id FROM events.pages"
        " UNION ALL SELECT session_id FROM events_common.requests) e USING (session_id)"
        " GROUP BY 1, 2",
    )


def object_keys(s3: "S3Client") -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def import_openreplay(
    database_url: str, openreplay_url: str, moto: str, config: Path
) -> "subprocess.CompletedProcess[str]":
    return jobtrail(
        database_url,
        "openreplay",
        "import",
        "--from",
        openreplay_url,
        "--s3-endpoint",
        moto,
        "--s3-bucket",
        BUCKET,
        "--config-out",
        str(config),
    )


def test_an_imported_installation_deletes_exactly_one_users_data_in_one_project(
    database_url: str, openreplay_url: str, s3: "S3Client", moto: str, tmp_path: Path
) -> None:
    config = tmp_path / "openreplay.toml"
    first = import_openreplay(database_url, openreplay_url, moto, config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[:4] == [
        "Organizations: 2 added, 0 already here",
        "API keys: 2 added, 0 already here",
        "Projects: 3 added, 0 already here",
        f"Targets: written {config}",
    ]
    again = import_openreplay(database_url, openreplay_url, moto, config)
    assert "Projects: 0 added, 3 already here" in again.stdout
    assert "Nothing new to import." in again.stdout
    assert f"Targets: unchanged {config}" in again.stdout

    sessions_before, events_before = (
        sessions_by_owner(openreplay_url),
        events_by_owner(openreplay_url),
    )
    objects_before = object_keys(s3)
    settings = Settings(
        database_url=database_url, config_path=str(config), deletion_delay=timedelta(0)
    )
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        base = "/api/v1/shopKey7aaaaaaaaaaaa"
        alice = {"Authorization": KEY_A}
        listed = client.get(f"{base}/users/alice@shop.example/sessions", headers=alice)
        assert listed.status_code == 200, listed.text
        shown = listed.json()["data"]  # OpenReplay's own sessions, newest first
        assert len(shown) == 50 and {session["projectId"] for session in shown} == {7}
        other_tenant = client.delete("/api/v1/agencyKey11cccccccc/users/x", headers=alice)
        assert other_tenant.status_code == 404
        scheduled = client.delete(f"{base}/users/alice@shop.example", headers=alice)
        assert scheduled.status_code == 200, scheduled.text
        job = scheduled.json()["data"]
        assert job["projectId"] == 7

        results = services.worker(threading.Event()).run_due_jobs()

        assert results == {RunResult.COMPLETED: 1}
        done = client.get(f"{base}/jobs/{job['jobId']}", headers=alice).json()["data"]
        assert done["status"] == JobStatus.COMPLETED
        receipt = services.history.receipt(7, job["jobId"])
        assert receipt == {  # a count for every table (the import found them)
            "public.sessions": 500,
            "events.clicks": 1000,
            "events.pages": 500,
            "events_common.requests": 500,
            "recordings": 1500,
        }
        first_org = services.tenancy.organizations()[0].id  # several: one must be named
        assert services.tenancy.create_project("made here later", first_org).id > 11

    gone = ("alice@shop.example", 7)
    assert sessions_by_owner(openreplay_url) == {
        k: v for k, v in sessions_before.items() if k != (7, gone[0])
    }
    assert events_by_owner(openreplay_url) == {
        k: v for k, v in events_before.items() if k != (7, gone[0])
    }
    alice_sessions = range(FIRST_SESSION[7], FIRST_SESSION[7] + 500)
    assert object_keys(s3) == objects_before - {f"{s}/{m}" for s in alice_sessions for m in MOBS}
    assert f"{FIRST_SESSION[7]}0/dom.mobs" in object_keys(s3)


def test_an_import_that_would_take_an_id_in_use_changes_nothing(
    database_url: str, openreplay_url: str, moto: str, tmp_path: Path
) -> None:
    services = build_services(Settings(database_url=database_url))
    try:
        for n in range(7):
            services.tenancy.create_project(f"own {n}")  # ids 1..7: 7 is OpenReplay's
    finally:
        services.close()
    result = import_openreplay(database_url, openreplay_url, moto, tmp_path / "t.toml")
    assert result.returncode == 1
    assert (
        "Refused public.projects row project_id=7, column project_id: the id is jobtrail "
        "project 'own 6''s" in result.stderr
    )
    assert not (tmp_path / "t.toml").exists()
    listed = jobtrail(database_url, "orgs", "list", "--json")
    assert "OpenReplay" not in listed.stdout


def test_a_database_that_is_not_openreplays_is_refused_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "x.toml"
    result = jobtrail(
        database_url,
        "openreplay",
        "import",
        "--from",
        postgres_admin_url(),
        "--config-out",
        str(out),
    )
    assert result.returncode == 1
    assert "is it OpenReplay's database?" in result.stderr.strip().splitlines()[-1]
    assert not out.exists()

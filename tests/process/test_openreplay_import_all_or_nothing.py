"""`jobtrail openreplay import` is all or nothing: the whole source is checked first,
every row it refuses is named (its table, its id, its column, why), and what it
writes goes in one transaction, so a failure part-way leaves jobtrail's database
exactly as it was.

The source is a real PostgreSQL database shaped like an OpenReplay installation's,
without the constraints that would keep the broken rows out: sources are dumps,
restores and hand-edited copies, and the import must not trust them. jobtrail's own
database runs on both backends.
"""

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import build_services
from application.tenants import FIRST_START_PROJECT
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.conftest import postgres_admin_url, require_postgres
from tests.process.conftest import RunningServer, jobtrail, start_server
from tests.scheduling import SchedulingCommands

KEY_A, KEY_B = "orKeyTenantA7x9Q2mW4z", "orKeyTenantB3k8L1pV6n"
TENANTS: list[tuple[Any, ...]] = [(1, "Shop", KEY_A), (2, "Agency", KEY_B)]
# (project_id, project_key, tenant_id, name): what a healthy installation holds.
WEB = (7, "shopKey7aaaaaaaaaaaa", 1, "web")
SITE = (11, "agencyKey11cccccccc", 2, "site")

LOOSE_OPENREPLAY_SCHEMA = """
CREATE TABLE public.tenants (tenant_id integer, name text, api_key text);
CREATE TABLE public.projects (
    project_id integer, project_key text, tenant_id integer, name text,
    deleted_at timestamp NULL);
CREATE TABLE public.sessions (
    session_id bigint PRIMARY KEY, project_id integer, user_id text);
"""

Source = Callable[[Sequence[tuple[Any, ...]], Sequence[tuple[Any, ...]]], str]


@pytest.fixture
def source() -> Iterator[Source]:
    """Makes throwaway OpenReplay-shaped databases holding the given tenants and live
    projects; they are dropped at the end of the test."""
    require_postgres()
    made: list[str] = []

    def make(tenants: Sequence[tuple[Any, ...]], projects: Sequence[tuple[Any, ...]]) -> str:
        name = f"openreplay_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(LOOSE_OPENREPLAY_SCHEMA)
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO tenants VALUES (%s, %s, %s)", tenants)
                cursor.executemany("INSERT INTO projects VALUES (%s, %s, %s, %s, NULL)", projects)
        return url

    yield make
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def import_from(
    database_url: str, source_url: str, config: Path
) -> "subprocess.CompletedProcess[str]":
    return jobtrail(
        database_url, "openreplay", "import", "--from", source_url, "--config-out", str(config)
    )


def everything_of_tenancy(database_url: str) -> tuple[list[Any], ...]:
    """Every organization, key and project jobtrail holds, as they are."""
    services = build_services(Settings(database_url=database_url))
    try:
        tenancy = services.tenancy
        return tenancy.organizations(), tenancy.list_keys(), tenancy.projects()
    finally:
        services.close()


def jobtrail_of_its_own(database_url: str) -> tuple[list[Any], ...]:
    """An organization with a key and a project that were here before the import."""
    services = build_services(Settings(database_url=database_url))
    try:
        org = services.tenancy.create_organization("ours")
        services.tenancy.issue_key(org.id)
        services.tenancy.create_project("ours", org.id)
    finally:
        services.close()
    return everything_of_tenancy(database_url)


def refused(result: "subprocess.CompletedProcess[str]") -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Refused ")]


def assert_refused_in_own_words(result: "subprocess.CompletedProcess[str]") -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Nothing was imported" in result.stderr
    for raw in ("UNIQUE", "IntegrityError", "psycopg", "sqlite3", "JOBTRAIL_DATABASE_URL"):
        assert raw not in result.stderr
    assert all(len(line) < 300 for line in result.stderr.splitlines()), result.stderr


def test_two_live_projects_sharing_a_key_are_both_named_and_nothing_is_written(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    before = jobtrail_of_its_own(database_url)
    ios = (9, WEB[1], 1, "ios")
    result = import_from(database_url, source(TENANTS, [WEB, ios, SITE]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert refused(result) == [
        "Refused public.projects row project_id=7, column project_key: "
        "live project_id 9 has the same key (a key names one project)",
        "Refused public.projects row project_id=9, column project_key: "
        "live project_id 7 has the same key (a key names one project)",
    ]
    assert everything_of_tenancy(database_url) == before
    assert not (tmp_path / "t.toml").exists()


def test_keys_that_cannot_be_one_path_segment_are_each_named_and_nothing_is_written(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    before = jobtrail_of_its_own(database_url)
    broken = {
        20: None,
        21: "",
        22: "web/../x",
        23: "line\nfeed",
        24: "k" * 5000,
        25: ".",
        26: "..",
        27: "with space",
    }
    projects = [WEB, SITE, *((id, key, 1, f"p{id}") for id, key in broken.items())]
    result = import_from(database_url, source(TENANTS, projects), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    named = refused(result)
    assert [line.split(",")[0] for line in named] == [
        f"Refused public.projects row project_id={id}" for id in broken
    ]
    assert all(", column project_key: " in line for line in named)
    assert "it is missing (NULL)" in named[0]
    assert "'/'" in named[2] and "'\\n'" in named[3] and "5000 characters" in named[4]
    assert everything_of_tenancy(database_url) == before


def test_a_project_id_twice_in_the_source_is_refused_and_nothing_is_written(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    before = jobtrail_of_its_own(database_url)
    twin = (7, "shopKey7bbbbbbbbbbbb", 1, "twin")
    result = import_from(database_url, source(TENANTS, [WEB, twin, SITE]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert refused(result) == [
        "Refused public.projects row project_id=7, column project_id: "
        "2 live rows have this id (an id names one project)"
    ]
    assert everything_of_tenancy(database_url) == before


def test_tenant_rows_that_are_not_sane_are_named_and_nothing_is_written(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    before = jobtrail_of_its_own(database_url)
    tenants = [
        *TENANTS,
        (None, "Nobody", "orKeyTenantNullQ2mW4z"),
        (3, "Same key", KEY_A),
        (2, "Same id", "orKeyTenantTwin2mW4zz"),
    ]
    orphan = (12, "orphanKey12dddddddd", 5, "orphan")
    result = import_from(database_url, source(tenants, [WEB, SITE, orphan]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert refused(result) == [
        "Refused public.tenants row tenant_id=NULL, column tenant_id: it is missing (NULL)",
        "Refused public.tenants row tenant_id=1, column api_key: "
        "tenant_id 3 has the same API key (a key names one organization)",
        "Refused public.tenants row tenant_id=2, column tenant_id: "
        "2 rows have this id (an id names one tenant)",
        "Refused public.tenants row tenant_id=3, column api_key: "
        "tenant_id 1 has the same API key (a key names one organization)",
        "Refused public.projects row project_id=12, column tenant_id: "
        "there is no tenant 5 in public.tenants",
    ]
    assert everything_of_tenancy(database_url) == before


def test_a_conflict_found_late_rolls_back_the_organizations_and_keys_written_before_it(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    """The source is sound; jobtrail's own project holds one of its keys. The
    organizations and keys go in first, then the projects meet the conflict: the
    transaction is rolled back, and the database is exactly as it was."""
    before = jobtrail_of_its_own(database_url)
    ours = before[2][0]
    clash = (12, ours.project_key, 2, "clash")
    result = import_from(database_url, source(TENANTS, [WEB, SITE, clash]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert refused(result) == [
        "Refused public.projects row project_id=12, column project_key: the key is "
        f"jobtrail project_id {ours.id}'s, of another organization here ({ours.org_id})"
    ]
    assert everything_of_tenancy(database_url) == before


def test_a_rerun_keeps_only_what_is_really_the_same_row(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    first = import_from(database_url, source(TENANTS, [WEB, SITE]), tmp_path / "a.toml")
    assert first.returncode == 0, first.stderr
    grown = source(TENANTS, [WEB, SITE, (13, "shopKey13eeeeeeeeeee", 1, "new")])
    again = import_from(database_url, grown, tmp_path / "a.toml")
    assert again.returncode == 0, again.stderr
    assert "Projects: 1 added, 2 already here" in again.stdout
    imported = everything_of_tenancy(database_url)

    rekeyed = (7, "shopKey7zzzzzzzzzzzz", 1, "web")
    changed = import_from(database_url, source(TENANTS, [rekeyed, SITE]), tmp_path / "a.toml")

    assert_refused_in_own_words(changed)
    assert refused(changed) == [
        "Refused public.projects row project_id=7, column project_key: jobtrail's "
        "project_id 7 has another key (imported before: the installation changed it?)"
    ]
    assert everything_of_tenancy(database_url) == imported


def test_a_rerun_after_the_installation_changed_a_tenants_key_refuses_the_old_key(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    """A tenant's new key (OpenReplay regenerates one that leaked) is the only one the
    installation accepts: jobtrail must not go on accepting the old one."""
    first = import_from(database_url, source(TENANTS, [WEB, SITE]), tmp_path / "a.toml")
    assert first.returncode == 0, first.stderr
    new_key_a = "orKeyTenantA5newKeyQ8"
    regenerated = source([(1, "Shop", new_key_a), TENANTS[1]], [WEB, SITE])

    again = import_from(database_url, regenerated, tmp_path / "a.toml")

    assert again.returncode == 0, again.stderr
    app = create_app(Settings(database_url=database_url), follow_projection=False, run_worker=False)
    with TestClient(app) as client:
        shop, agency = f"/api/v1/{WEB[1]}/jobs", f"/api/v1/{SITE[1]}/jobs"
        assert client.get(shop, headers={"Authorization": new_key_a}).status_code == 200
        assert client.get(agency, headers={"Authorization": KEY_B}).status_code == 200
        assert client.get(shop, headers={"Authorization": KEY_A}).status_code == 401


# Serve's first start makes the default organization, a key and project id 1; an
# installation's first project is id 1 too.
SHOP_1 = (1, "shopKey1aaaaaaaaaaaa", 1, "web")
AGENCY_2 = (2, "agencyKey2cccccccccc", 2, "site")


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(database_url, tmp_path)
    yield running
    running.process.terminate()
    try:
        running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        running.process.kill()


def delete_user(server: RunningServer, project_key: str, api_key: str, user: str) -> Any:
    response = httpx.delete(
        f"{server.base_url}/api/v1/{project_key}/users/{user}",
        headers={"Authorization": api_key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_an_import_into_a_database_serve_started_moves_its_unused_default_project(
    database_url: str, served: RunningServer, source: Source, tmp_path: Path
) -> None:
    result = import_from(database_url, source(TENANTS, [SHOP_1, AGENCY_2]), tmp_path / "t.toml")

    assert result.returncode == 0, result.stderr
    assert "Projects: 2 added, 0 already here" in result.stdout
    assert (
        f"Moved jobtrail's own project 'default' (key {served.project_key}, no jobs) "
        "from id 1 to id 3: OpenReplay's project 1 keeps its id." in result.stdout
    )
    # The running server answers on the imported keys at once, with OpenReplay's ids...
    assert delete_user(served, SHOP_1[1], KEY_A, "alice")["projectId"] == 1
    assert delete_user(served, AGENCY_2[1], KEY_B, "bob")["projectId"] == 2
    # ...and the first start's key and project still work, under the project's new id.
    assert delete_user(served, served.project_key, served.api_key, "carol")["projectId"] == 3
    other = httpx.get(
        f"{served.base_url}/api/v1/{SHOP_1[1]}/jobs",
        headers={"Authorization": served.api_key},
        timeout=30,
    )
    assert other.status_code == 404
    again = import_from(database_url, source(TENANTS, [SHOP_1, AGENCY_2]), tmp_path / "t.toml")
    assert "Projects: 0 added, 2 already here" in again.stdout
    assert "Moved" not in again.stdout


def test_an_import_that_needs_the_id_of_a_default_project_with_jobs_says_what_to_do(
    database_url: str, served: RunningServer, source: Source, tmp_path: Path
) -> None:
    delete_user(served, served.project_key, served.api_key, "dave")
    before = everything_of_tenancy(database_url)

    result = import_from(database_url, source(TENANTS, [SHOP_1, AGENCY_2]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert refused(result) == [
        "Refused public.projects row project_id=1, column project_id: jobtrail's own "
        f"project 'default' (key {served.project_key}) holds this id and has jobs, whose "
        "records name it for good: import into a new jobtrail database"
    ]
    assert everything_of_tenancy(database_url) == before


def test_a_job_the_read_model_has_not_reached_yet_keeps_the_default_project_in_place(
    database_url: str, source: Source, tmp_path: Path
) -> None:
    """The job is in the log only (as a worker's commands leave it, with no server
    following the log): the import catches the read model up before it decides."""
    services = build_services(Settings(database_url=database_url))
    try:
        services.tenancy.issue_key()
        own = services.tenancy.create_project(FIRST_START_PROJECT)
        log_only = SchedulingCommands(
            services.log, SqlJobIdAllocator(services.database), services.clock, None
        )
        log_only.schedule_user_deletion(own.id, "erin", actor="test")
        assert services.read_model.page(own.id, None, limit=1, offset=0) == []
    finally:
        services.close()
    before = everything_of_tenancy(database_url)

    result = import_from(database_url, source(TENANTS, [SHOP_1, AGENCY_2]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert "holds this id and has jobs" in refused(result)[0]
    assert everything_of_tenancy(database_url) == before


def test_an_import_does_not_move_a_default_project_in_use_a_moment_ago(
    database_url: str, served: RunningServer, source: Source, tmp_path: Path
) -> None:
    """A running server remembers a project by its key for a few seconds: moving one
    that is in use could send a request meant for it to the project now holding its
    old id. A key used in the last two minutes keeps the project where it is."""
    listed = httpx.get(
        f"{served.base_url}/api/v1/{served.project_key}/jobs",
        headers={"Authorization": served.api_key},
        timeout=30,
    )
    assert listed.status_code == 200
    # The server notes a key's use off the request's path; wait until it has (the
    # bound is generous, not a measure: it is written within milliseconds).
    deadline = time.monotonic() + 30
    while everything_of_tenancy(database_url)[1][0].last_used_at is None:
        assert time.monotonic() < deadline, "the key's use was never noted"
        time.sleep(0.1)
    before = everything_of_tenancy(database_url)

    result = import_from(database_url, source(TENANTS, [SHOP_1, AGENCY_2]), tmp_path / "t.toml")

    assert_refused_in_own_words(result)
    assert refused(result) == [
        "Refused public.projects row project_id=1, column project_id: jobtrail's own "
        f"project 'default' (key {served.project_key}) holds this id and is in use (its "
        "key was used in the last 2 minutes, or its dashboard is signed in): stop that, "
        "sign out, and import again in 2 minutes"
    ]
    assert everything_of_tenancy(database_url) == before

"""A job read on the event loop (ADR 22): the same answer as the read model's, on both
backends; a read that would wait says so at once instead of stopping the loop; and
on PostgreSQL a connection killed while idle never reaches a request."""

import asyncio
import functools
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy import text

from api.composition import Services, build_services
from application.errors import DamagedRecord, JobNotFound, WouldWait
from application.job_records import JobView
from infrastructure.database import Database, DatabaseUnavailable, parse_database_url
from infrastructure.loop_reads import SQLITE_DEEPEST_OFFSET, SQLiteLoopReader
from infrastructure.settings import Settings
from tests.conftest import new_tenant, postgres_admin_url

T = TypeVar("T")


def on_a_loop(services: Services, read: Callable[[], Awaitable[T]]) -> T:
    """``read`` on a new event loop, between the loop reader's open and close."""

    async def run() -> T:
        await services.loop_reads.open()
        try:
            return await read()
        finally:
            await services.loop_reads.close()

    return asyncio.run(run())


def scheduled_job(services: Services, project_id: int, user: str = "ada@example.com") -> int:
    outcome = services.commands.schedule_user_deletion(project_id, user, "test")
    return outcome.job.job_id


def test_a_job_read_on_the_loop_is_the_job_the_read_model_holds(services: Services) -> None:
    tenant = new_tenant(services)
    job_id = scheduled_job(services, tenant.project.id)
    services.commands.cancel(tenant.project.id, job_id, "test")

    read = on_a_loop(services, lambda: services.queries.get_on_loop(tenant.project.id, job_id))

    assert read == services.queries.get(tenant.project.id, job_id)
    assert read.status == "cancelled"


def test_another_projects_job_and_a_missing_one_are_not_found_on_the_loop(
    services: Services,
) -> None:
    mine, theirs = new_tenant(services), new_tenant(services, "other org")
    job_id = scheduled_job(services, theirs.project.id)

    for project_id, wanted in ((mine.project.id, job_id), (theirs.project.id, job_id + 1)):
        with pytest.raises(JobNotFound):
            on_a_loop(services, functools.partial(services.queries.get_on_loop, project_id, wanted))


def test_a_page_read_on_the_loop_is_the_page_the_read_model_gives(services: Services) -> None:
    tenant, other = new_tenant(services), new_tenant(services, "other org")
    ids = [scheduled_job(services, tenant.project.id, f"user{n}@example.com") for n in range(7)]
    scheduled_job(services, other.project.id)
    services.commands.cancel(tenant.project.id, ids[2], "test")
    project_id = tenant.project.id

    for status, limit, page in (
        (None, 3, 1),
        (None, 3, 3),
        ("scheduled", 2, 2),
        ("cancelled", 5, 1),
    ):
        on_loop = on_a_loop(
            services,
            functools.partial(services.queries.page_on_loop, project_id, status, limit, page),
        )
        assert on_loop == services.queries.page(project_id, status, limit, page)
    newest_first = on_a_loop(
        services, lambda: services.queries.page_on_loop(project_id, None, 50, 1)
    )
    assert [job.job_id for job in newest_first] == sorted(ids, reverse=True)


def test_a_deep_sqlite_page_is_read_in_a_thread(services: Services) -> None:
    if services.database.backend != "sqlite":
        pytest.skip("on PostgreSQL the loop only awaits the server, however deep the page")
    deep = SQLITE_DEEPEST_OFFSET // 50 + 2
    with pytest.raises(WouldWait, match="deep"):
        on_a_loop(services, lambda: services.queries.page_on_loop(1, None, 50, deep))


def test_a_damaged_job_is_reported_as_damaged_on_the_loop_too(services: Services) -> None:
    tenant = new_tenant(services)
    job_id = scheduled_job(services, tenant.project.id)
    with services.database.writer() as conn:
        conn.execute(
            text("UPDATE jobs SET damaged = 'undecodable' WHERE job_id = :j"), {"j": job_id}
        )

    with pytest.raises(DamagedRecord, match="undecodable"):
        on_a_loop(services, lambda: services.queries.get_on_loop(tenant.project.id, job_id))


def test_a_key_not_in_memory_would_wait_and_once_remembered_is_answered_from_memory(
    services: Services,
) -> None:
    tenant = new_tenant(services)
    header = tenant.key.api_key
    with pytest.raises(WouldWait):
        services.tenancy.authenticate(header, remembered_only=True)

    principal = services.tenancy.authenticate(header)

    assert services.tenancy.authenticate(header, remembered_only=True) == principal
    assert principal is not None
    project_key = tenant.project.project_key
    with pytest.raises(WouldWait):
        services.tenancy.project_for(principal, project_key, remembered_only=True)
    project = services.tenancy.project_for(principal, project_key)
    assert services.tenancy.project_for(principal, project_key, remembered_only=True) == project


def test_a_locked_sqlite_file_hands_the_read_to_a_thread_at_once(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    with_jobs = build_services(Settings(database_url=database_url))
    tenant = new_tenant(with_jobs)
    job_id = scheduled_job(with_jobs, tenant.project.id)
    with_jobs.close()
    # A connection in exclusive locking mode keeps every other reader out of the file,
    # WAL or not (as a recovery would, for a moment).
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    reader = SQLiteLoopReader(Database(parse_database_url(database_url)))

    async def read() -> JobView | None:
        await reader.open()
        try:
            return await reader.get(tenant.project.id, job_id)
        finally:
            await reader.close()

    started = time.monotonic()
    with pytest.raises(WouldWait, match="locked"):
        asyncio.run(read())
    assert time.monotonic() - started < 1  # not the 30 s busy timeout
    holder.execute("COMMIT")
    holder.close()
    found = asyncio.run(read())
    assert found is not None and found.job_id == job_id


def _kill_loop_connections() -> int:
    """Ends this process's loop-read connections (only this test process's: other
    test workers share the cluster), as a database restart would."""
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"jobtrail loop reads {os.getpid()}",),
        ).fetchall()
    return len(rows)


@pytest.fixture
def job_on_postgres(services: Services) -> tuple[int, int]:
    """(project id, job id) of a job, on PostgreSQL only."""
    if services.database.backend != "postgresql":
        pytest.skip("a server that ends connections is a PostgreSQL matter")
    tenant = new_tenant(services)
    return tenant.project.id, scheduled_job(services, tenant.project.id)


def test_a_loop_connection_killed_while_idle_is_replaced_before_a_request_meets_it(
    services: Services, job_on_postgres: tuple[int, int]
) -> None:
    async def read_kill_wait_read() -> int:
        await services.queries.get_on_loop(*job_on_postgres)
        assert _kill_loop_connections() >= 1
        await asyncio.sleep(1.2)  # idle for longer than the pool trusts a connection
        return (await services.queries.get_on_loop(*job_on_postgres)).job_id

    assert on_a_loop(services, read_kill_wait_read) == job_on_postgres[1]


def test_a_loop_connection_killed_in_steady_use_fails_one_read_with_503_then_recovers(
    services: Services, job_on_postgres: tuple[int, int]
) -> None:
    async def read_kill_read() -> tuple[int, int]:
        await services.queries.get_on_loop(*job_on_postgres)
        _kill_loop_connections()
        failed = answered = 0
        for _ in range(3):
            try:
                await services.queries.get_on_loop(*job_on_postgres)
                answered += 1
            except DatabaseUnavailable:
                failed += 1
        return failed, answered

    failed, answered = on_a_loop(services, read_kill_read)
    assert failed <= 1 and answered >= 2

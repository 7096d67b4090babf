"""The API's reads, awaited on the event loop (ADR 28): the same answers as the read
model's, on both backends; a locked SQLite file never stops the loop; and on
PostgreSQL a connection killed while idle never reaches a request."""

import asyncio
import functools
import os
import sqlite3
import threading
from typing import Any

import psycopg
import pytest
from sqlalchemy import Executable, text

from api.composition import Services, build_services
from application.errors import DamagedRecord, JobNotFound
from application.job_records import JobView
from application.tenants import Principal
from infrastructure.async_reads import AsyncReader, Rows
from infrastructure.database import DatabaseUnavailable
from infrastructure.read_model import AsyncJobsReadModel
from infrastructure.reads_together import SHARED_PAGE_DEPTH
from infrastructure.settings import Settings
from tests.conftest import job_now, new_tenant, on_a_loop, postgres_admin_url
from tests.scheduling import SchedulingCommands


def scheduled_job(services: Services, project_id: int, user: str = "ada@example.com") -> int:
    outcome = SchedulingCommands.of(services).schedule_user_deletion(project_id, user, "test")
    return outcome.job.job_id


def test_a_job_read_on_the_loop_is_the_job_the_read_model_holds(services: Services) -> None:
    tenant = new_tenant(services)
    job_id = scheduled_job(services, tenant.project.id)
    services.commands.cancel(tenant.project.id, job_id, "test")

    read = on_a_loop(services, lambda: services.queries.get(tenant.project.id, job_id))

    assert read == job_now(services, tenant.project.id, job_id)
    assert read.status == "cancelled"


def test_another_projects_job_and_a_missing_one_are_not_found_on_the_loop(
    services: Services,
) -> None:
    mine, theirs = new_tenant(services), new_tenant(services, "other org")
    job_id = scheduled_job(services, theirs.project.id)

    for project_id, wanted in ((mine.project.id, job_id), (theirs.project.id, job_id + 1)):
        with pytest.raises(JobNotFound):
            on_a_loop(services, functools.partial(services.queries.get, project_id, wanted))


class CountingReader:
    """The API's reader, counting the statements it runs."""

    def __init__(self, reader: AsyncReader) -> None:
        self._reader = reader
        self.statements = 0

    async def open(self) -> None:
        await self._reader.open()

    async def close(self) -> None:
        await self._reader.close()

    async def rows(self, statement: Executable, values: dict[str, Any]) -> Rows:
        self.statements += 1
        return await self._reader.rows(statement, values)


def test_gets_that_arrive_together_share_reads_and_each_is_answered_for_its_own_project(
    services: Services,
) -> None:
    mine, theirs = new_tenant(services), new_tenant(services, "other org")
    ids = [scheduled_job(services, mine.project.id, f"user{n}@example.com") for n in range(45)]
    their_job = scheduled_job(services, theirs.project.id)
    damaged = ids.pop()
    with services.database.writer() as conn:
        conn.execute(
            text("UPDATE jobs SET damaged = 'undecodable' WHERE job_id = :j"), {"j": damaged}
        )
    reader = CountingReader(services.reads)
    jobs = AsyncJobsReadModel(reader, deadline=5)
    asked = [(mine.project.id, job_id) for job_id in ids] + [
        (theirs.project.id, ids[0]),  # in the same read as mine's ids[0]: still not theirs
        (mine.project.id, their_job),
        (mine.project.id, damaged),
        (mine.project.id, their_job + 1000),
    ]

    async def together() -> list[object]:
        return await asyncio.gather(*(jobs.get(*ask) for ask in asked), return_exceptions=True)

    answers = on_a_loop(services, together)

    assert answers[: len(ids)] == [job_now(services, mine.project.id, j) for j in ids]
    assert answers[len(ids) :][:2] == [None, None]  # another project's job, either way
    assert isinstance(answers[-2], DamagedRecord)
    assert answers[-1] is None
    # 48 GETs asked in one turn of the loop: 32 in one statement, 16 in the next.
    assert reader.statements == 2


def test_pages_that_arrive_together_share_reads_and_each_is_its_own(services: Services) -> None:
    mine, theirs = new_tenant(services), new_tenant(services, "other org")
    ids = [scheduled_job(services, mine.project.id, f"u{n}@example.com") for n in range(12)]
    their_ids = [scheduled_job(services, theirs.project.id, f"u{n}@example.com") for n in range(3)]
    for job_id in ids[::3]:
        services.commands.cancel(mine.project.id, job_id, "test")
    reader = CountingReader(services.reads)
    jobs = AsyncJobsReadModel(reader, deadline=5)
    # (project, status, limit, offset, prefix): ten of one kind, and three of others.
    asked: list[tuple[int, str | None, int, int, str | None]] = [
        (mine.project.id, None, limit, offset, None) for limit in (1, 5) for offset in range(5)
    ]
    asked += [
        (theirs.project.id, None, 5, 0, None),
        (mine.project.id, "cancelled", 2, 1, None),
        (mine.project.id, None, 50, 0, "u1"),
        (mine.project.id, None, 5, SHARED_PAGE_DEPTH, None),  # deep: read alone
    ]

    async def together() -> list[list[JobView]]:
        return await asyncio.gather(*(jobs.page(*ask) for ask in asked))

    pages = on_a_loop(services, together)

    newest_first = sorted(ids, reverse=True)
    for (project_id, status, limit, offset, prefix), page in zip(asked, pages, strict=True):
        if project_id == theirs.project.id:
            assert [job.job_id for job in page] == sorted(their_ids, reverse=True)
        elif prefix is not None:
            assert {job.reference_id for job in page} == {
                "u1@example.com",
                "u10@example.com",
                "u11@example.com",
            }
        elif status is not None:
            assert [job.job_id for job in page] == sorted(ids[::3], reverse=True)[1:3]
        else:
            assert [job.job_id for job in page] == newest_first[offset : offset + limit]
            assert page == services.read_model.page(project_id, None, limit, offset)
    # Eleven shallow pages of one kind: eight in one statement, three in the next; one
    # each for the other two kinds (a search by prefix is read alone), and the deep one.
    assert reader.statements == 5


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
            services, functools.partial(services.queries.page, project_id, status, limit, page)
        )
        offset = (page - 1) * limit
        assert on_loop == services.read_model.page(project_id, status, limit, offset)
    newest_first = on_a_loop(services, lambda: services.queries.page(project_id, None, 50, 1))
    assert [job.job_id for job in newest_first] == sorted(ids, reverse=True)


def test_a_user_prefix_is_matched_literally_not_as_a_pattern(services: Services) -> None:
    project_id = new_tenant(services).project.id
    wanted = {name: scheduled_job(services, project_id, name) for name in ("a_b", "axb", "50%x")}
    scheduled_job(services, project_id, "500x")

    def users_starting(prefix: str) -> set[int]:
        page = on_a_loop(
            services, lambda: services.queries.page(project_id, None, 50, 1, user_prefix=prefix)
        )
        return {job.job_id for job in page}

    assert users_starting("a_") == {wanted["a_b"]}
    assert users_starting("50%") == {wanted["50%x"]}
    assert users_starting("a") == {wanted["a_b"], wanted["axb"]}


def test_a_damaged_job_is_reported_as_damaged_on_the_loop_too(services: Services) -> None:
    tenant = new_tenant(services)
    job_id = scheduled_job(services, tenant.project.id)
    with services.database.writer() as conn:
        conn.execute(
            text("UPDATE jobs SET damaged = 'undecodable' WHERE job_id = :j"), {"j": job_id}
        )

    with pytest.raises(DamagedRecord, match="undecodable"):
        on_a_loop(services, lambda: services.queries.get(tenant.project.id, job_id))


def test_a_key_and_its_project_are_read_on_the_loop_and_a_revoked_key_stops_at_once(
    services: Services,
) -> None:
    tenant = new_tenant(services)
    header, project_key = tenant.key.api_key, tenant.project.project_key

    async def who_and_where() -> tuple[object, object]:
        principal = await services.tenancy.authenticate(header)
        assert principal is not None
        return principal, await services.tenancy.project_for(principal, project_key)

    principal, project = on_a_loop(services, who_and_where)
    assert project == tenant.project
    assert principal == Principal(tenant.key.key_id, tenant.key.org_id)
    services.tenancy.revoke_key(tenant.key.key_id)
    assert on_a_loop(services, lambda: services.tenancy.authenticate(header)) is None


def test_a_locked_sqlite_file_never_stops_the_loop_and_the_read_waits_for_it(
    database_url: str,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    services = build_services(Settings(database_url=database_url))
    tenant = new_tenant(services)
    job_id = scheduled_job(services, tenant.project.id)
    services.close()  # its connections would keep the holder below out; the reads are apart
    # A connection in exclusive locking mode keeps every other reader out of the file,
    # WAL or not (as a recovery would, for a moment).
    holder = sqlite3.connect(
        database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("SELECT count(*) FROM jobs").fetchall()

    def release() -> None:
        holder.execute("COMMIT")
        holder.close()

    released = threading.Timer(0.5, release)

    async def read_while_ticking() -> tuple[int, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        released.start()
        job = await services.queries.get(tenant.project.id, job_id)
        ticker.cancel()
        return job.job_id, ticks

    try:
        read, ticks = on_a_loop(services, read_while_ticking)
    finally:
        released.join()
    assert read == job_id
    assert ticks >= 10  # the loop went on while the file was locked


def _kill_read_connections() -> int:
    """Ends this process's read connections (only this test process's: other
    test workers share the cluster), as a database restart would."""
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"jobtrail reads {os.getpid()}",),
        ).fetchall()
    return len(rows)


@pytest.fixture
def job_on_postgres(services: Services) -> tuple[int, int]:
    """(project id, job id) of a job, on PostgreSQL only."""
    if services.database.backend != "postgresql":
        pytest.skip("a server that ends connections is a PostgreSQL matter")
    tenant = new_tenant(services)
    return tenant.project.id, scheduled_job(services, tenant.project.id)


def test_a_read_connection_killed_while_idle_is_replaced_before_a_request_meets_it(
    services: Services, job_on_postgres: tuple[int, int]
) -> None:
    async def read_kill_wait_read() -> int:
        await services.queries.get(*job_on_postgres)
        assert _kill_read_connections() >= 1
        await asyncio.sleep(1.2)  # idle for longer than the pool trusts a connection
        return (await services.queries.get(*job_on_postgres)).job_id

    assert on_a_loop(services, read_kill_wait_read) == job_on_postgres[1]


def test_a_read_connection_killed_in_steady_use_fails_one_read_with_503_then_recovers(
    services: Services, job_on_postgres: tuple[int, int]
) -> None:
    async def read_kill_read() -> tuple[int, int]:
        await services.queries.get(*job_on_postgres)
        _kill_read_connections()
        failed = answered = 0
        for _ in range(3):
            try:
                await services.queries.get(*job_on_postgres)
                answered += 1
            except DatabaseUnavailable:
                failed += 1
        return failed, answered

    failed, answered = on_a_loop(services, read_kill_read)
    assert failed <= 1 and answered >= 2

"""Projection tooling: status, rebuild beside the live model, verify, leadership."""

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from api.app import create_app
from api.composition import Services, build_services
from application.audit import compare
from application.job_records import JobRow
from application.projection_check import fold_projection
from infrastructure.rebuild import Rebuild, RebuildInProgress, UnknownProjection, rebuild_role
from infrastructure.settings import Settings
from infrastructure.tables import jobs
from tests.conftest import new_tenant, tomorrows_commands
from tests.integration.test_projection import Stranger, schedule_without_projecting
from tests.scheduling import SchedulingCommands
from tests.waiting import eventually


def record(services: Services, name: str = "jobs") -> tuple[int, str, str | None]:
    found = {r.name: r for r in services.projection_store.records()}[name]
    return found.position, found.state, found.error


def test_status_shows_how_far_the_projection_lags(services: Services) -> None:
    schedule_without_projecting(services, 4)
    position, state, error = record(services)
    assert (position, state, error) == (0, "live", None)
    assert services.log.head() - position == 12
    services.projector.catch_up()
    assert record(services)[0] == services.log.head()


def test_an_event_it_cannot_apply_stops_the_follower_with_the_reason(services: Services) -> None:
    schedule_without_projecting(services, 1)
    services.log.save(Stranger(note="unknown to the projection"))
    schedule_without_projecting(services, 1, "later")
    follower = services.follower()
    follower.start()
    try:
        eventually(lambda: record(services)[1] == "stopped", 10, "the projection to stop")
        position, _, error = record(services)
        assert error is not None and "Appeared" in error and "position 4" in error
        assert position == 0  # nothing past the event was skipped to
    finally:
        follower.stop()


def test_exactly_one_process_leads_a_projection_and_another_takes_over(settings: Settings) -> None:
    first, second = build_services(settings), build_services(settings)
    leader, standby = first.follower(), second.follower()
    try:
        leader.start()
        eventually(lambda: leader.is_leader, 10, "a leader")
        standby.start()
        time.sleep(0.3)
        assert not standby.is_leader
        schedule_without_projecting(second, 2)
        eventually(lambda: first.projector.position() == first.log.head(), 10, "catch-up")
        leader.stop()  # the leader goes away: its lock is released
        eventually(lambda: standby.is_leader, 10, "the standby to take over")
        schedule_without_projecting(second, 2, "after")
        eventually(lambda: second.projector.position() == second.log.head(), 10, "catch-up")
    finally:
        standby.stop()
        first.close()
        second.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_new_events_wake_the_leader_at_once(database_url: str) -> None:
    from tests.conftest import require_postgres

    require_postgres()
    slow_poll = Settings(database_url=database_url, projection_poll_interval=60)
    leading, writing = build_services(slow_poll), build_services(slow_poll)
    follower = leading.follower()
    try:
        follower.start()
        eventually(lambda: follower.is_leader, 10, "a leader")
        time.sleep(0.5)  # now idle, waiting on LISTEN with a 60 s poll
        schedule_without_projecting(writing, 1)
        eventually(
            lambda: leading.projector.position() == leading.log.head(),
            10,
            "the NOTIFY to wake the leader (a poll would take 60 s)",
        )
    finally:
        follower.stop()
        leading.close()
        writing.close()


def rows(services: Services) -> list[JobRow]:
    return list(services.read_model.every_job())


def test_a_rebuild_reproduces_the_read_model_and_can_run_again(services: Services) -> None:
    ids = schedule_without_projecting(services, 30)
    for job_id in ids[::4]:
        services.commands.cancel(1, job_id, "k")
    services.projector.catch_up()
    before = rows(services)
    for _ in range(2):  # a second rebuild must not collide with the first's names
        result = Rebuild(services.log, services.database, batch_size=7).run()
        assert result.position == services.log.head()
        assert rows(services) == before
    records = {r.name for r in services.projection_store.records()}
    assert records == {"jobs"}
    SchedulingCommands.of(services).schedule_user_deletion(1, "after-rebuild", "k")
    services.projector.catch_up()  # the live projection goes on into the new table
    assert len(rows(services)) == 31


AWKWARD_USER_IDS = [
    "back\\slash \\N \\. and \\t",
    "quote ' and \" double",
    "ünïcødé 用户 🙂",
    "comma, semicolon; pipe|",
]


def test_a_rebuild_writes_awkward_text_exactly_as_the_live_projection(
    services: Services,
) -> None:
    for user_id in AWKWARD_USER_IDS:
        SchedulingCommands.of(services).schedule_user_deletion(1, user_id, "k")
    # User ids hold no control characters; an error text may (tabs, line feeds).
    failing = SchedulingCommands.of(services).schedule_user_deletion(1, "fails", "k").job.job_id
    worker = tomorrows_commands(services)
    worker.start(failing, "worker:w")
    worker.fail(failing, "worker:w", 1, "tab\there\nnew line\r\n\\N and \\t")
    before = rows(services)
    assert {view.reference_id for view in before} == {*AWKWARD_USER_IDS, "fails"}
    Rebuild(services.log, services.database).run()
    assert rows(services) == before
    assert list(compare(fold_projection(services.log, services.log.head()), rows(services))) == []


def test_reads_during_a_rebuild_never_miss_a_job(settings: Settings, services: Services) -> None:
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as client:
        app_services: Services = client.app.state.services  # type: ignore[attr-defined]
        tenant = new_tenant(app_services)
        confirmed: list[int] = []
        for n in range(60):
            response = client.delete(tenant.url(f"/users/early-{n}"), headers=tenant.headers)
            confirmed.append(response.json()["data"]["jobId"])
        stop = threading.Event()
        problems: list[str] = []

        def write() -> None:
            n = 0
            while not stop.is_set():
                response = client.delete(tenant.url(f"/users/during-{n}"), headers=tenant.headers)
                if response.status_code != 200:
                    problems.append(f"scheduling: status {response.status_code}: {response.text}")
                else:
                    confirmed.append(response.json()["data"]["jobId"])
                n += 1

        def read() -> None:
            while not stop.is_set():
                expected = set(confirmed)
                response = client.get(tenant.url("/jobs"), headers=tenant.headers)
                if response.status_code != 200:
                    problems.append(f"status {response.status_code}: {response.text}")
                    continue
                seen = {job["jobId"] for job in response.json()["data"]}
                if not expected <= seen:
                    problems.append(f"missing {sorted(expected - seen)[:5]}")

        threads = [threading.Thread(target=write), threading.Thread(target=read)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.2)
            Rebuild(app_services.log, app_services.database, batch_size=5).run()
            time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert problems == []
        listed = client.get(tenant.url("/jobs"), headers=tenant.headers).json()["data"]
        assert {job["jobId"] for job in listed} == set(confirmed)


def test_a_second_rebuild_while_one_runs_is_refused(services: Services) -> None:
    running = rebuild_role(services.database, "jobs")
    assert running.try_acquire()
    try:
        with pytest.raises(RebuildInProgress, match="already running"):
            Rebuild(services.log, services.database).run()
    finally:
        running.release()


def test_only_known_projections_can_be_rebuilt(services: Services) -> None:
    with pytest.raises(UnknownProjection):
        Rebuild(services.log, services.database, name="users")


def test_an_interrupted_rebuild_resumes_from_its_last_batch(services: Services) -> None:
    schedule_without_projecting(services, 20)
    services.projector.catch_up()
    before = rows(services)
    calls = {"n": 0}

    def interrupt(position: int, head: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Rebuild(services.log, services.database, batch_size=10).run(interrupt)
    assert record(services, "jobs:rebuild")[:2] == (30, "rebuilding")
    assert rows(services) == before  # the live model was never touched
    result = Rebuild(services.log, services.database, batch_size=10).run()
    assert result.resumed_from == 30
    assert result.events == 30
    assert rows(services) == before


def test_verify_finds_a_row_changed_by_hand(services: Services, tmp_path: Path) -> None:
    ids = schedule_without_projecting(services, 5)
    services.projector.catch_up()
    position = services.projector.position()
    assert list(compare(fold_projection(services.log, position), rows(services))) == []
    with services.database.writer() as conn:
        conn.execute(
            update(jobs).where(jobs.c.job_id == ids[2]).values(reference_id="someone else")
        )
        conn.execute(jobs.delete().where(jobs.c.job_id == ids[4]))
    differences = list(compare(fold_projection(services.log, position), rows(services)))
    assert [(d.job_id, d.field) for d in differences] == [
        (ids[2], "reference_id"),
        (ids[4], "existence"),
    ]

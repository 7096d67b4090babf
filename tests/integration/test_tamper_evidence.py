"""The hash chain: every change made behind jobtrail's back is found, where it was made."""

from datetime import timedelta

import pytest
from sqlalchemy import Connection, text

from api.composition import Services, build_services
from infrastructure.chain import GENESIS, verify_chain
from infrastructure.settings import Settings
from tests.conftest import require_postgres
from tests.processes import run_in_processes
from tests.scheduling import SchedulingCommands


@pytest.fixture
def log_of_events(services: Services) -> Services:
    """A log of 17 events: five jobs (three events each), two of them cancelled."""
    ids = [
        SchedulingCommands.of(services).schedule_user_deletion(1, f"user-{n}", "key:k").job.job_id
        for n in range(4)
    ]
    services.commands.cancel(1, ids[0], "key:k")
    services.commands.cancel(1, ids[2], "key:k")
    SchedulingCommands.of(services).schedule_user_deletion(1, "user-last", "key:k")
    assert services.log.head() == 17
    return services


def position_column(services: Services) -> str:
    return "rowid" if services.database.backend == "sqlite" else "notification_id"


def tamper(services: Services, sql: str, **params: object) -> None:
    table = services.database.url.events_table
    with services.database.writer() as conn:
        conn.execute(text(sql.format(table=table, position=position_column(services))), params)


def row(conn: Connection, services: Services, position: int) -> dict[str, object]:
    table = services.database.url.events_table
    found = conn.execute(
        text(
            f"SELECT originator_id, originator_version, topic, state FROM {table} "
            f"WHERE {position_column(services)} = :p"
        ),
        {"p": position},
    ).one()
    return dict(found._mapping)


def test_an_untouched_log_is_intact_and_names_its_head(log_of_events: Services) -> None:
    report = verify_chain(log_of_events.log, log_of_events.database)
    assert report.intact
    assert report.checked == 17
    assert report.head_position == 17
    assert len(report.head_hash) == 64 and report.head_hash != GENESIS


def test_an_empty_log_is_intact(services: Services) -> None:
    report = verify_chain(services.log, services.database)
    assert (report.intact, report.checked, report.head_hash) == (True, 0, GENESIS)


def test_an_edited_payload_is_found_at_its_position(log_of_events: Services) -> None:
    with log_of_events.database.reader() as conn:
        state = bytes(row(conn, log_of_events, 7)["state"])  # type: ignore[call-overload]
    forged = state.replace(b"key:k", b"key:x")
    assert forged != state
    tamper(log_of_events, "UPDATE {table} SET state = :s WHERE {position} = 7", s=forged)
    report = verify_chain(log_of_events.log, log_of_events.database)
    assert (report.broken_at, report.head_position) == (7, 6)
    assert report.reason is not None and "altered" in report.reason


def test_a_deleted_event_is_found_at_its_position(log_of_events: Services) -> None:
    tamper(log_of_events, "DELETE FROM {table} WHERE {position} = 9")
    report = verify_chain(log_of_events.log, log_of_events.database)
    assert report.broken_at == 9
    assert report.reason is not None and "deleted" in report.reason


def test_a_deleted_event_and_its_link_are_found_at_the_next_event(log_of_events: Services) -> None:
    tamper(log_of_events, "DELETE FROM {table} WHERE {position} = 9")
    with log_of_events.database.writer() as conn:
        conn.execute(text("DELETE FROM event_chain WHERE position = 9"))
    report = verify_chain(log_of_events.log, log_of_events.database)
    assert report.broken_at == 10
    assert report.reason is not None and "before it" in report.reason


def test_an_inserted_event_is_found_at_its_position(log_of_events: Services) -> None:
    services = log_of_events
    with services.database.reader() as conn:
        template = row(conn, services, 3)
    table = services.database.url.events_table
    forged_id = "ffffffffffffffffffffffffffffffff"
    columns = "originator_id, originator_version, topic, state"
    if services.database.backend == "sqlite":
        statement = f"INSERT INTO {table} (rowid, {columns}) VALUES (18, :i, 1, :t, :s)"
    else:
        statement = f"INSERT INTO {table} ({columns}) VALUES (CAST(:i AS uuid), 1, :t, :s)"
    with services.database.writer() as conn:
        conn.execute(
            text(statement), {"i": forged_id, "t": template["topic"], "s": template["state"]}
        )
    report = verify_chain(services.log, services.database)
    assert report.broken_at == 18
    assert report.reason is not None and "inserted" in report.reason


def test_two_swapped_events_are_found_at_the_first_of_them(log_of_events: Services) -> None:
    services = log_of_events
    table, position = services.database.url.events_table, position_column(services)
    with services.database.writer() as conn:
        fifth, twelfth = row(conn, services, 5), row(conn, services, 12)
        conn.execute(text(f"DELETE FROM {table} WHERE {position} IN (5, 12)"))
        insert = text(
            f"INSERT INTO {table} ({position}, originator_id, originator_version, topic, state) "
            "VALUES (:p, :originator_id, :originator_version, :topic, :state)"
        )
        conn.execute(insert, {"p": 5, **twelfth})
        conn.execute(insert, {"p": 12, **fifth})
    report = verify_chain(services.log, services.database)
    assert report.broken_at == 5
    assert report.reason is not None and "altered" in report.reason


def test_a_rewritten_chain_fails_against_a_published_anchor(log_of_events: Services) -> None:
    services = log_of_events
    published = verify_chain(services.log, services.database)
    anchor = (published.head_position, published.head_hash)
    assert verify_chain(services.log, services.database, anchor).intact
    with services.database.writer() as conn:
        conn.execute(text("UPDATE event_chain SET hash = :h WHERE position = 17"), {"h": "ab" * 32})
    report = verify_chain(services.log, services.database, anchor)
    assert report.broken_at == 17


def test_a_truncated_log_fails_against_a_published_anchor(log_of_events: Services) -> None:
    services = log_of_events
    published = verify_chain(services.log, services.database)
    tamper(services, "DELETE FROM {table} WHERE {position} >= 16")
    with services.database.writer() as conn:
        conn.execute(text("DELETE FROM event_chain WHERE position >= 16"))
    assert verify_chain(services.log, services.database).intact  # alone, it cannot tell
    report = verify_chain(
        services.log, services.database, (published.head_position, published.head_hash)
    )
    assert report.broken_at == 17
    assert report.reason is not None and "truncated" in report.reason


def _schedule_many(database_url: str, writer: int, count: int) -> None:
    services = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    try:
        for n in range(count):
            job = (
                SchedulingCommands.of(services)
                .schedule_user_deletion(1, f"w{writer}-{n}", "key:k")
                .job
            )
            if n % 3 == 0:
                services.commands.cancel(1, job.job_id, "key:k")
    finally:
        services.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_writer_processes_extend_one_chain_without_forks(database_url: str) -> None:
    require_postgres()
    build_services(Settings(database_url=database_url)).close()
    run_in_processes(_schedule_many, [(database_url, w, 40) for w in range(4)], timeout=90)
    services = build_services(Settings(database_url=database_url))
    try:
        report = verify_chain(services.log, services.database)
        assert report.intact, report
        with services.database.reader() as conn:
            links = conn.execute(
                text("SELECT count(*), count(DISTINCT prev_hash) FROM event_chain")
            ).one()
        assert links[0] == links[1] == report.checked
    finally:
        services.close()


def test_concurrent_writer_threads_extend_one_chain(services: Services) -> None:
    import threading

    def write(writer: int) -> None:
        for n in range(15):
            SchedulingCommands.of(services).schedule_user_deletion(1, f"t{writer}-{n}", "key:k")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_chain(services.log, services.database)
    assert report.intact
    assert report.checked == services.log.head() == 180

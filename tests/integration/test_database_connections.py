"""The connections behind the read model: a hot read leaves its connection as the
pool's other users expect it, and a connection that sat idle is checked first."""

import time

import psycopg
import pytest
from sqlalchemy import text

from api.composition import Services
from tests.conftest import postgres_admin_url


def test_a_failed_hot_read_leaves_its_connection_transactional(services: Services) -> None:
    database = services.database
    with pytest.raises(Exception, match="no_such_table"):
        database.fetch_raw("SELECT 1 FROM no_such_table", ())
    with database.writer() as conn:
        conn.execute(text("CREATE TABLE scratch (n INTEGER)"))
    # A transaction that fails part way leaves nothing: no connection came back
    # from the hot read in autocommit.
    with pytest.raises(RuntimeError), database.writer() as conn:
        conn.execute(text("INSERT INTO scratch (n) VALUES (1)"))
        raise RuntimeError("changed my mind")
    assert database.fetch_raw("SELECT count(*) FROM scratch", ()) == [(0,)]


def test_hot_reads_in_a_row_each_see_the_latest_commit(services: Services) -> None:
    database = services.database
    with database.writer() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
    for n in range(1, 30):
        with database.writer() as conn:
            conn.execute(text("INSERT INTO counter (n) VALUES (:n)"), {"n": n})
        assert database.fetch_raw("SELECT max(n) FROM counter", ()) == [(n,)]


def test_a_connection_killed_while_idle_is_replaced_before_a_request_meets_it(
    services: Services,
) -> None:
    database = services.database
    if database.backend != "postgresql":
        pytest.skip("a server that ends connections is a PostgreSQL matter")
    idle = database.engine.pool.checkedin()  # type: ignore[attr-defined]
    held = [database.engine.raw_connection() for _ in range(idle)]
    pids = set()
    for connection in held:
        pids.add(connection.driver_connection.info.backend_pid)  # type: ignore[union-attr]
    for connection in held:
        connection.close()
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(1.2)  # idle for longer than the pool trusts a connection unchecked
    [(replacement,)] = database.fetch_raw("SELECT pg_backend_pid()", ())
    assert replacement not in pids

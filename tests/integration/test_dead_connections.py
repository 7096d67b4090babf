"""A connection the server ended (pg_terminate_backend, a restart) is found and
replaced before a request meets it, in every pool of the process: the read model's
(SQLAlchemy), the event store's (eventsourcing's psycopg pool) and the event loop's
reads (psycopg's async pool). The requests answer 200, not a 503 at the deadline.

The database is a throwaway cluster of this module's own: killing every connection
but the test's, or restarting the server, touches nobody else's work.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings
from tests.conftest import Tenant, new_tenant
from tests.throwaway_postgres import ThrowawayPostgres, throwaway_postgres

DEADLINE = 3.0
"""Seconds a request may take before the API answers 503: well under the default
10 s, so that a request stuck on a dead connection shows as a 503."""
FOUND_AND_REPLACED_WITHIN = 1.0
"""Seconds a request after the kill may take, connecting anew included: the issue's
"well under a second" for finding a dead connection (a request takes ~50 ms here)."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as own:
        yield own


@dataclass
class Served:
    client: TestClient
    tenant: Tenant
    job_id: int

    def get(self, path: str) -> int:
        return self.client.get(self.tenant.url(path), headers=self.tenant.headers).status_code

    def delete(self, path: str) -> int:
        return self.client.delete(self.tenant.url(path), headers=self.tenant.headers).status_code

    def every_request(self, user: str) -> dict[str, tuple[int, float]]:
        """Each request that reaches a pool of its own, with its status and seconds."""
        requests: dict[str, Callable[[], int]] = {
            "GET /jobs/{id}": lambda: self.get(f"/jobs/{self.job_id}"),
            "GET /jobs?limit=1": lambda: self.get("/jobs?limit=1"),
            "GET /jobs/{id}/events": lambda: self.get(f"/jobs/{self.job_id}/events"),
            "DELETE /users/{id}": lambda: self.delete(f"/users/{user}"),
        }
        answered = {}
        for name, request in requests.items():
            started = time.monotonic()
            status = request()
            answered[name] = (status, round(time.monotonic() - started, 2))
        return answered


@pytest.fixture
def served(cluster: ThrowawayPostgres) -> Iterator[Served]:
    url = f"{cluster.url}?schema=t_{uuid.uuid4().hex[:12]}"
    settings = Settings(database_url=url, read_your_writes_timeout=DEADLINE)
    # The projection's follower runs, as in `jobtrail serve`: its connections die too.
    with TestClient(create_app(settings, run_worker=False)) as client:
        tenant = new_tenant(client.app.state.services)  # type: ignore[attr-defined]
        response = client.delete(tenant.url("/users/first@example.com"), headers=tenant.headers)
        served = Served(client, tenant, response.json()["data"]["jobId"])
        # Every pool holds connections it has used: each one is killed below.
        assert all(status == 200 for status, _ in served.every_request("warm@example.com").values())
        yield served


def kill_every_connection_but_mine(cluster: ThrowawayPostgres) -> int:
    """Ends every client connection of the cluster but this one, and waits for each
    to be gone (pg_terminate_backend's timeout), as an operator's kill would."""
    with psycopg.connect(cluster.url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchall()
    return len(ended)


def assert_all_answered_at_once(answered: dict[str, tuple[int, float]]) -> None:
    assert all(status == 200 for status, _ in answered.values()), answered
    assert all(seconds < FOUND_AND_REPLACED_WITHIN for _, seconds in answered.values()), answered


@pytest.mark.parametrize("idle", [0.0, 1.5], ids=["at-once", "after-idling"])
def test_requests_after_every_connection_is_killed_are_answered_at_once(
    served: Served, cluster: ThrowawayPostgres, idle: float
) -> None:
    # Killed just after use, and killed after idling past the pools' ping threshold.
    assert kill_every_connection_but_mine(cluster) >= 3  # one pool each, at least
    time.sleep(idle)

    assert_all_answered_at_once(served.every_request("after-the-kill@example.com"))


def test_requests_after_every_connection_is_killed_twice_are_answered_at_once(
    served: Served, cluster: ThrowawayPostgres
) -> None:
    for round_ in range(2):
        kill_every_connection_but_mine(cluster)
        assert_all_answered_at_once(served.every_request(f"round-{round_}@example.com"))


def test_requests_after_a_database_restart_are_answered_at_once(
    served: Served, cluster: ThrowawayPostgres
) -> None:
    cluster.stop()
    cluster.start()

    assert_all_answered_at_once(served.every_request("after-the-restart@example.com"))

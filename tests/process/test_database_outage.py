"""PostgreSQL restarts under load: the API answers 503 JSON while it is away,
recovers by itself, the worker and the projection resume, and nothing is lost.

The database is a throwaway cluster of the test's own: stopping it touches
nobody else's work."""

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from api.composition import build_services
from infrastructure.settings import Settings
from tests.invariants import check_log
from tests.process.conftest import start_server
from tests.throwaway_postgres import ThrowawayPostgres, throwaway_postgres
from tests.waiting import eventually, job_reaches


@pytest.fixture
def cluster() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as own:
        yield own


def test_the_service_rides_out_a_postgresql_restart(
    cluster: ThrowawayPostgres, tmp_path: Path
) -> None:
    database_url = cluster.url
    env = {
        "JOBTRAIL_DELETION_DELAY": "0",
        "JOBTRAIL_WORKER_POLL_INTERVAL": "0.2",
        "JOBTRAIL_READ_YOUR_WRITES_TIMEOUT": "5",
    }
    server = start_server(database_url, tmp_path, extra_env=env)
    base = f"{server.base_url}/api/v1/{server.project_key}"
    auth = {"Authorization": server.api_key}
    acknowledged: dict[str, int] = {}
    statuses: Counter[int] = Counter()
    bad: list[str] = []
    stop = threading.Event()

    def check(response: httpx.Response, also: tuple[int, ...] = ()) -> None:
        statuses[response.status_code] += 1
        if response.status_code not in (200, 503, *also):
            bad.append(f"{response.status_code} {response.text[:200]}")
        elif response.status_code == 503 and "errors" not in response.json():
            bad.append(f"503 without JSON errors: {response.text[:200]}")

    def write() -> None:
        # Writes may wait out a short outage (the event store retries) or answer 503.
        with httpx.Client(timeout=60) as http:
            i = 0
            while not stop.is_set():
                user = f"outage-{i}@example.com"
                i += 1
                response = http.delete(f"{base}/users/{user}", headers=auth)
                check(response)
                if response.status_code == 200:
                    acknowledged[user] = response.json()["data"]["jobId"]
                time.sleep(0.02)

    def read() -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                check(http.get(f"{base}/jobs?limit=5", headers=auth))
                check(http.get(f"{base}/jobs/1", headers=auth), also=(404,))  # 404 until it exists
                time.sleep(0.02)

    loaders = [threading.Thread(target=write), threading.Thread(target=read)]
    for loader in loaders:
        loader.start()
    try:
        eventually(lambda: len(acknowledged) >= 10, 30, "load before the outage")
        cluster.stop()
        time.sleep(3)
        during = statuses[503]
        cluster.start()
        eventually(lambda: statuses[503] > 0 or bool(bad), 10, f"503 answers {statuses} {bad[:3]}")
        assert during > 0, (
            f"the API should have answered 503 while PostgreSQL was down: {statuses} {bad[:3]}"
        )
        before = len(acknowledged)
        eventually(lambda: len(acknowledged) >= before + 10, 60, "recovery")
    finally:
        stop.set()
        for loader in loaders:
            loader.join(timeout=90)
    try:
        assert bad == []
        with httpx.Client(timeout=10) as http:
            job = http.delete(f"{base}/users/after-outage@example.com", headers=auth).json()["data"]
            job_reaches(
                "completed",
                f"{base}/jobs/{job['jobId']}",
                auth,
                60,
                "the worker to run a job after the outage",
            )
            for user, job_id in acknowledged.items():
                response = http.get(f"{base}/jobs/{job_id}", headers=auth)
                assert response.json()["data"]["referenceId"] == user
    finally:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=20)
    services = build_services(Settings(database_url=database_url))
    try:
        assert check_log(services, require_terminal=False) == []
    finally:
        services.close()

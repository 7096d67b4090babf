"""SIGKILL the API in the middle of a burst of requests, restart it, and check that
everything it acknowledged is there and nothing is half-written."""

import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx

from api.composition import build_services
from infrastructure.settings import Settings
from tests.invariants import check_log
from tests.process.conftest import start_server


def test_every_acknowledged_request_survives_a_killed_server(
    database_url: str, tmp_path: Path, soak: int
) -> None:
    env = {"JOBTRAIL_EMBEDDED_WORKER": "0"}
    server = start_server(database_url, tmp_path, extra_env=env)
    base = f"{server.base_url}/api/v1/{server.project_key}"
    auth = {"Authorization": server.api_key}
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(timeout=10) as http:
            i = 0
            while not killed.is_set():
                user = f"burst-{n}-{i}@example.com"
                try:
                    response = http.delete(f"{base}/users/{user}", headers=auth)
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    with lock:
                        acknowledged[user] = response.json()["data"]["jobId"]
                i += 1

    clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 60 * soak and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(server.process.pid, signal.SIGKILL)
    killed.set()
    server.process.wait(timeout=10)
    for thread in clients:
        thread.join()
    assert len(acknowledged) >= 60 * soak

    restarted = start_server(
        database_url, tmp_path, extra_env=env, credentials=(server.api_key, server.project_key)
    )
    try:
        with httpx.Client(timeout=10) as http:
            for user, job_id in acknowledged.items():
                response = http.get(
                    f"{base.replace(server.base_url, restarted.base_url)}/jobs/{job_id}",
                    headers=auth,
                )
                assert response.status_code == 200, (user, response.text)
                assert response.json()["data"]["referenceId"] == user
    finally:
        os.killpg(restarted.process.pid, signal.SIGTERM)
        restarted.process.wait(timeout=15)

    services = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    try:
        assert check_log(services, require_terminal=False) == []
        for job_id in acknowledged.values():
            assert services.log.job(job_id) is not None
    finally:
        services.close()

"""A burst of requests far beyond what the server can take at once, on a real
`jobtrail serve` (issue 25): the excess is refused with 503 at once, and as soon as
the burst is over the service answers normally again; before, slots lost to the
burst left every request waiting for its deadline, then 503, until a restart.

The flood comes from this test, on loopback: thousands of connections opened
together, each sending one request (no keep-alive) and reading its answer."""

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx

from tests.process.conftest import RunningServer, start_server

FLOOD = 3_000
"""Requests in flight at once: seventy-five times the handler threads, past the
queue's bound (api.handler_threads) fifteen times over, within the test process's
and the server's descriptor limits. One Python process answers a few hundred a
second of them at most (accepting, parsing, refusing): the flood lasts seconds."""
DEADLINE = 3.0
"""JOBTRAIL_READ_YOUR_WRITES_TIMEOUT: an answer at this deadline is the slow 503
the burst must not cause."""
FLOOD_ANSWERED_WITHIN = 30.0
"""Seconds for the whole flood to be answered; a request still unanswered then is
counted as such (not waited for)."""
RECOVERED_WITHIN = 5.0
"""Seconds after the flood ends for normal answers to come back: the issue's
"fully healthy within seconds"."""


async def _one(port: int, raw: bytes) -> tuple[int | str, bytes]:
    """The status (or what went wrong) and the body of one request."""
    try:
        async with asyncio.timeout(FLOOD_ANSWERED_WITHIN):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(raw)
                answer = await reader.read()  # Connection: close: to the end
            finally:
                writer.close()
    except (OSError, TimeoutError) as error:
        return type(error).__name__, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.1 ") else b""
    return (int(status) if status.isdigit() else "no status"), body


async def _flood(port: int, requests: list[bytes]) -> list[tuple[int | str, bytes]]:
    return await asyncio.gather(*(_one(port, raw) for raw in requests))


def flood(server: RunningServer, job_id: int) -> Counter[str]:
    """FLOOD requests at once: GET /healthz (no key), a job's events (a handler
    thread) and the job (the event loop's read first); counted as "200", "503
    refused" (at once), "503 deadline" or what went wrong."""
    port = int(server.base_url.rsplit(":", 1)[1])
    job = f"/api/v1/{server.project_key}/jobs/{job_id}"
    key = f"Authorization: {server.api_key}\r\n"
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n".encode()
        for path, auth in (("/healthz", ""), (f"{job}/events", key), (job, key))
    ]
    answers = asyncio.run(_flood(port, requests * (FLOOD // len(requests))))
    counted: Counter[str] = Counter()
    for status, body in answers:
        if status == 503:
            counted["503 refused" if b"waiting already" in body else "503 deadline"] += 1
        else:
            counted[str(status)] += 1
    return counted


def test_a_burst_far_beyond_capacity_is_shed_and_the_service_recovers_at_once(
    database_url: str, tmp_path: Path
) -> None:
    env = {"JOBTRAIL_READ_YOUR_WRITES_TIMEOUT": str(DEADLINE)}
    server = start_server(database_url, tmp_path, extra_env=env, extra_args=("--no-worker",))
    base = f"{server.base_url}/api/v1/{server.project_key}"
    auth = {"Authorization": server.api_key}
    try:
        with httpx.Client(timeout=30) as http:
            job = http.delete(f"{base}/users/before@example.com", headers=auth)
            job_id = job.json()["data"]["jobId"]

            counted = flood(server, job_id)
            flood_ended = time.monotonic()

            def normal_answers() -> dict[str, int]:
                healthz = http.get(f"{server.base_url}/healthz")
                schedule = http.delete(f"{base}/users/after@example.com", headers=auth)
                read = http.get(f"{base}/jobs/{job_id}", headers=auth)
                return {
                    "GET /healthz": healthz.status_code,
                    "DELETE /users/{id}": schedule.status_code,
                    "GET /jobs/{id}": read.status_code,
                }

            while set((answered := normal_answers()).values()) != {200}:
                assert time.monotonic() - flood_ended < RECOVERED_WITHIN, (
                    f"{RECOVERED_WITHIN} s after the flood ({counted}): {answered}"
                )
                time.sleep(0.1)
            recovered_after = time.monotonic() - flood_ended
            # And they stay normal: nothing is left over from the burst.
            for _ in range(3):
                assert set(normal_answers().values()) == {200}
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)

    assert recovered_after < RECOVERED_WITHIN
    # The excess was refused at once, and nothing else went wrong.
    assert counted["503 refused"] > 0, counted
    assert set(counted) <= {"200", "503 refused", "503 deadline"}, counted

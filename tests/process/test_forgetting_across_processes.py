"""Forgetting from one process reaches every other within a stated bound (issue 25,
finding 6): a running `jobtrail serve` stops showing a user forgotten by `jobtrail
forget` within FORGETTING_HEARD_WITHIN seconds, in the job's events and its past
versions alike (the current job follows the log's forgetting event at once)."""

import time
from pathlib import Path

import httpx2 as httpx
import pytest

from domain.request import FORGOTTEN
from infrastructure.personal_data import FORGETTING_HEARD_WITHIN
from tests.process.conftest import jobtrail, start_server
from tests.waiting import job_reaches

USER = "forget-across.5b1e@example.com"
# The bound is measured from `forget`'s exit; the margin is for a loaded machine
# (two cores shared with other suites), and stays far below the 60 s it once was.
MARGIN_SECONDS = 5.0


def test_the_documented_bound_is_a_few_seconds() -> None:
    assert 0 < FORGETTING_HEARD_WITHIN <= 5


def test_a_running_server_stops_showing_a_user_forgotten_from_the_command_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(
        database_url,
        tmp_path,
        extra_env={"JOBTRAIL_DELETION_DELAY": "0", "JOBTRAIL_WORKER_POLL_INTERVAL": "0.1"},
    )
    try:
        base = f"{server.base_url}/api/v1/{server.project_key}"
        auth = {"Authorization": server.api_key}
        job_id = httpx.delete(f"{base}/users/{USER}", headers=auth).json()["data"]["jobId"]
        job_reaches("completed", f"{base}/jobs/{job_id}", auth, 30, "the job to complete")
        events, first = f"{base}/jobs/{job_id}/events", f"{base}/jobs/{job_id}?version=1"

        def shown() -> dict[str, bool]:
            """Where the running server still shows the user (reading its data key)."""
            return {
                "events": USER in httpx.get(events, headers=auth).text,
                "version 1": httpx.get(first, headers=auth).json()["data"]["referenceId"]
                != FORGOTTEN,
            }

        assert shown() == {"events": True, "version 1": True}  # its key is in memory now

        monkeypatch.setenv("JOBTRAIL_FORGET_AFTER", "0")
        forgot = jobtrail(database_url, "forget")
        assert forgot.returncode == 0, forgot.stderr
        assert "Forgot 1 user " in forgot.stdout

        forgotten_at = time.monotonic()
        deadline = forgotten_at + FORGETTING_HEARD_WITHIN + MARGIN_SECONDS
        still = shown()
        while any(still.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
            still = shown()
        assert not any(still.values()), (
            f"still shown {time.monotonic() - forgotten_at:.1f} s after forgetting: {still}"
        )
        assert (
            httpx.get(f"{base}/jobs/{job_id}", headers=auth).json()["data"]["referenceId"]
            == FORGOTTEN
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)

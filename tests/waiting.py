"""Waiting for something that happens in another thread or process, with a bound."""

import time
from collections.abc import Callable

import httpx2 as httpx


def eventually(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def job_reaches(
    status: str, job_url: str, headers: dict[str, str], timeout: float, what: str
) -> None:
    """Polls a job over HTTP, as a client would, until it has ``status``."""
    with httpx.Client(timeout=10) as http:
        eventually(
            lambda: http.get(job_url, headers=headers).json()["data"]["status"] == status,
            timeout,
            what,
        )

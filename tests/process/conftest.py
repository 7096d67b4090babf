"""Real jobtrail processes, started as a user would start them."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

JOBTRAIL = Path(sys.executable).with_name("jobtrail")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    process: "subprocess.Popen[str]"
    base_url: str
    api_key: str
    project_key: str
    first_start_output: str


def start_server(
    database_url: str,
    workdir: Path,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    credentials: tuple[str, str] | None = None,
    port: int | None = None,
) -> RunningServer:
    """Starts `jobtrail serve`; on an empty database it reads the key and project it
    prints, otherwise pass the ``credentials`` (api key, project key) to use."""
    port = port or free_port()
    env = {**os.environ, "JOBTRAIL_DATABASE_URL": database_url, **(extra_env or {})}
    log = (workdir / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [str(JOBTRAIL), "serve", "--port", str(port), "--workers", str(workers), *extra_args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    output = ""
    if credentials is None:
        while "\n  curl " not in output:  # the "Try it" line, not a path with "curl" in it
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"serve exited early:\n{output}")
            output += line
        key = re.search(r"API key \(shown once\): (\S+)", output)
        project = re.search(r"Project key: (\S+)", output)
        assert key and project, output
        credentials = (key.group(1), project.group(1))
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("serve did not become healthy in 30 s")
    return RunningServer(process, base_url, credentials[0], credentials[1], output)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(database_url, tmp_path, workers=2)
    yield running
    running.process.terminate()
    try:
        running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        running.process.kill()


def jobtrail(database_url: str, *args: str) -> "subprocess.CompletedProcess[str]":
    """The real console script, run as an operator would, against one database."""
    return subprocess.run(
        [str(JOBTRAIL), *args],
        env={**os.environ, "JOBTRAIL_DATABASE_URL": database_url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=100,  # within a test's own timeout (120 s)
        check=False,
    )

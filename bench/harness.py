"""Processes, load runs and memory readings shared by the benchmark scenarios."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "JOBTRAIL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Figure:
    number: str
    name: str
    value: float
    baseline: float
    unit: str
    target: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@dataclass
class Server:
    process: "subprocess.Popen[bytes]"
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def server(command: list[str], env: dict[str, str], workdir: Path) -> Iterator[Server]:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"server-{port}.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"{command} did not start") from None
            time.sleep(0.1)
    try:
        yield Server(process, url)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def jobtrail_server(database_url: str, workdir: Path) -> AbstractContextManager[Server]:
    jobtrail = str(Path(sys.executable).with_name("jobtrail"))
    return server(
        [jobtrail, "serve", "--port", "{port}", "--no-worker"],
        {"JOBTRAIL_DATABASE_URL": database_url, "JOBTRAIL_LOG_LEVEL": "WARNING"},
        workdir,
    )


def constant_server(workdir: Path) -> AbstractContextManager[Server]:
    return server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.constant_app:app",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {"PYTHONPATH": str(ROOT)},
        workdir,
    )


def load(
    url: str,
    method: str,
    path: str,
    seconds: float,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
) -> dict[str, object]:
    """Runs the load generator in its own process; returns its JSON report."""
    command = [
        sys.executable,
        "-m",
        "bench.load",
        url,
        method,
        path,
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=seconds + 120
    )
    report: dict[str, object] = json.loads(result.stdout)
    return report


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{POSTGRES_ADMIN_URL}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False

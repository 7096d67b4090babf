"""The servers under load: jobtrail, the CRUD peer and the constant endpoint, each in
its own process group, started and stopped by the harness."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from api import http_protocol
from bench.harness import ROOT, free_port
from infrastructure.database_url import parse_database_url

UVICORN_QUIET = ["--log-level", "warning", "--no-access-log"]


@dataclass
class Server:
    process: "subprocess.Popen[bytes]"
    url: str
    schema: str | None = None
    """The PostgreSQL schema it serves from (None: SQLite, or no database)."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its worker processes."""
        ticks = 0
        for pid in [self.pid, *_children(self.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(
    command: list[str],
    env: dict[str, str],
    workdir: Path,
    workers: int = 1,
    schema: str | None = None,
) -> Iterator[Server]:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"server-{port}.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, url, port, workers, workdir / f"server-{port}.log")
        yield Server(process, url, schema)
    finally:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)


def _signal_group(process: "subprocess.Popen[bytes]", signum: int) -> None:
    """A server that died on its own has no group left to signal."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _wait_until_serving(
    process: "subprocess.Popen[bytes]", url: str, port: int, workers: int, log: Path
) -> None:
    """Until /healthz answers and, with several workers, every one of them accepts:
    a worker still starting takes no connection, and wrk's keep-alive connections
    would then all stay with the first one for the whole run."""
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            if workers == 1 or _accepting_workers(process.pid, port) >= workers:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            _signal_group(process, signal.SIGKILL)
            said = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"{process.args!r} did not start; it said:\n{said}")
        time.sleep(0.1)


def _accepting_workers(parent: int, port: int) -> int:
    """Worker processes whose event loop watches the listening socket (the kernel's
    fdinfo of their epoll descriptors names the socket's descriptor)."""
    inode = _listening_inode(port)
    accepting = 0
    for pid in _children(parent):
        try:
            fds = {fd.name: os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
            listening = {name for name, target in fds.items() if target == f"socket:[{inode}]"}
            for name, target in fds.items():
                if target == "anon_inode:[eventpoll]":
                    info = Path(f"/proc/{pid}/fdinfo/{name}").read_text()
                    if any(f"tfd: {fd:>8} " in info for fd in listening):
                        accepting += 1
                        break
        except (FileNotFoundError, PermissionError):
            continue
    return accepting


def _listening_inode(port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
            return fields[9]
    return "none"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def jobtrail_server(
    database_url: str, workdir: Path, workers: int = 1
) -> AbstractContextManager[Server]:
    jobtrail = [str(Path(sys.executable).with_name("jobtrail"))]
    return server(
        [*jobtrail, "serve", "--port", "{port}", "--no-worker", "--workers", str(workers)],
        {"JOBTRAIL_DATABASE_URL": database_url, "JOBTRAIL_LOG_LEVEL": "WARNING"},
        workdir,
        workers,
        parse_database_url(database_url).schema,
    )


def peer_server(
    conninfo: str, schema: str, workdir: Path, workers: int = 1
) -> AbstractContextManager[Server]:
    # On jobtrail's HTTP protocol: with several workers, uvicorn's own leaves Nagle's
    # algorithm on, and figure 12 would measure delayed ACKs, not workers (ADR 21).
    command = [sys.executable, "-m", "uvicorn", "bench.peer.app:app", "--port", "{port}"]
    command += ["--http", http_protocol.NAME]
    return server(
        [*command, "--workers", str(workers), *UVICORN_QUIET],
        {"PEER_DATABASE_URL": conninfo, "PEER_SCHEMA": schema},
        workdir,
        workers,
        schema,
    )


def constant_server(workdir: Path) -> AbstractContextManager[Server]:
    command = [sys.executable, "-m", "uvicorn", "bench.constant_app:app", "--port", "{port}"]
    return server([*command, *UVICORN_QUIET], {}, workdir)

"""The two load generators behind one report.

``wrk`` (C, Debian's package) drives every HTTP figure: 16 keep-alive connections
on 2 threads, its requests and its JSON report written by ``bench/lua/requests.lua``.
``bench/load.py`` (asyncio) is kept for one figure only, 0, which measures how much
it flattered the earlier ratios: on this machine it tops out at about half of
wrk's rate on the constant endpoint.
"""

import json
import re
import resource
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("lua") / "requests.lua"
CONNECTIONS = 16
THREADS = 2
"""wrk's threads: one per core. On two cores shared with the server and the database
one thread would do too (figure 0's note shows wrk's own CPU); two keep a pause of
one from stalling every connection."""


class WrkMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__("wrk is not installed: apt-get install wrk (see bench/analysis.md)")


@dataclass(frozen=True)
class LoadReport:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int
    """Requests answered with a status of 400 or more, or lost to a socket error or a
    timeout (wrk counts those; no route answers 1xx or 3xx)."""
    generator_cpu: float
    """CPU seconds the load generator itself used, per second of the run."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str,
    method: str,
    path: str,
    seconds: float,
    headers: dict[str, str] | None = None,
    ids: int = 1,
    connections: int = CONNECTIONS,
) -> LoadReport:
    """``path`` may name ``{user}`` (a new user per request) or ``{id}`` (1..ids)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkMissing()
    command = [
        binary,
        f"--threads={min(THREADS, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",  # wrk takes whole seconds
        "--timeout=30s",  # a slow answer is a latency to report, not a lost request
        f"--script={SCRIPT}",
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    command += [url, "--", method, path, uuid.uuid4().hex[:8], str(ids)]
    before = _children_cpu()
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 120
    )
    used = _children_cpu() - before
    found = re.search(r"^WRK_REPORT (\{.*\})$", result.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no report:\n{result.stdout}\n{result.stderr}")
    report = json.loads(found.group(1))
    elapsed = report["duration_us"] / 1e6
    return LoadReport(
        requests=report["requests"],
        seconds=elapsed,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        failed=report["status_errors"] + report["socket_errors"] + report["timeouts"],
        generator_cpu=used / elapsed,
    )


def python_load(
    url: str, method: str, path: str, seconds: float, headers: dict[str, str] | None = None
) -> LoadReport:
    """bench/load.py in its own process, 16 connections (figure 0 only)."""
    command = [sys.executable, "-m", "bench.load", url, method, path]
    command += ["--concurrency", str(CONNECTIONS), "--seconds", str(seconds)]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    before = _children_cpu()
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=seconds + 120
    )
    used = _children_cpu() - before
    report = json.loads(result.stdout)
    statuses: dict[str, int] = report["statuses"]
    return LoadReport(
        requests=report["requests"],
        seconds=report["seconds"],
        p50_ms=report["p50_ms"] or 0.0,
        p99_ms=report["p99_ms"] or 0.0,
        failed=sum(count for status, count in statuses.items() if not status.startswith("2")),
        generator_cpu=used / report["seconds"],
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

"""One measured HTTP run: a warm-up, the server's tables analyzed (PostgreSQL), then
wrk, with the CPU each side used meanwhile (the note under the table: who was busy,
and was the machine saturated)."""

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.generators import CONNECTIONS, LoadReport, wrk
from bench.harness import Figure, analyze_schema
from bench.servers import Server

NO_TARGET = "none: a cost"


@dataclass(frozen=True)
class Run:
    load: LoadReport
    server_cpu: float
    """Cores the server's processes used, on average over the run."""
    machine_busy: float
    """Share of the machine's CPU time not idle during the run (every process)."""

    @property
    def rps(self) -> float:
        return self.load.rps

    @property
    def latency(self) -> tuple[float, float]:
        return (self.load.p50_ms, self.load.p99_ms)

    def describe(self, who: str) -> str:
        failed = f", {self.load.failed} failed" if self.load.failed else ""
        per_request = self.server_cpu / self.rps * 1000 if self.rps else 0.0
        return (
            f"{who}: {self.load.requests:,} requests{failed}, server {self.server_cpu:.2f} "
            f"cores ({per_request:.2f} ms CPU a request), wrk {self.load.generator_cpu:.2f}, "
            f"machine {self.machine_busy:.0%} busy"
        )


def run(
    server: Server,
    method: str,
    path: str,
    seconds: float,
    warmup: float,
    headers: dict[str, str] | None = None,
    ids: int = 1,
    connections: int = CONNECTIONS,
) -> Run:
    if warmup:
        # First requests pay for lazy imports, statement caches and new pool
        # connections: every server, jobtrail's or the peer's, gets the same warm-up.
        wrk(server.url, method, path, warmup, headers, ids, connections)
    if server.schema is not None:
        analyze_schema(server.schema)
    cpu, machine = server.cpu_seconds(), _machine_ticks()
    report = wrk(server.url, method, path, seconds, headers, ids, connections)
    if report.failed:
        # Fast error answers would inflate the rate: the figure's note says so too.
        print(f"{report.failed} of {report.requests} {method} {path} failed", file=sys.stderr)
    idle, total = (after - before for after, before in zip(_machine_ticks(), machine, strict=True))
    return Run(
        report,
        (server.cpu_seconds() - cpu) / report.seconds,
        1 - idle / total if total else 0.0,
    )


def versus_peer(number: str, name: str, ours: Run, peer: Run) -> Figure:
    """jobtrail's rate over the peer's, both runs measured one after the other."""
    return Figure(
        number,
        name,
        ours.rps,
        peer.rps,
        "req/s",
        NO_TARGET,
        None,
        f"{ours.describe('jobtrail')}; {peer.describe('peer')}",
        ours.latency,
        peer.latency,
    )


def _machine_ticks() -> tuple[int, int]:
    """(idle, total) CPU ticks of the whole machine since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])  # idle + iowait; without guest time

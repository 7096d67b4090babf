"""Figure 0 and the constant baseline: the HTTP stack's ceiling on this machine.

The constant endpoint (bench/constant_app.py) answers a fixed job on jobtrail's
Starlette, msgspec and uvicorn stack without touching a database. Figure 0 drives it
with bench/load.py and with wrk, one after the other on the same server: the ratio
says how much the Python generator held back the ratios measured with it before."""

from pathlib import Path

from bench.databases import Sizes
from bench.generators import python_load
from bench.harness import Figure
from bench.runs import NO_TARGET, Run, run
from bench.servers import constant_server


def constant_baseline(workdir: Path, sizes: Sizes, with_python: bool) -> tuple[Run, list[Figure]]:
    """wrk's run on the constant endpoint; with ``with_python``, also figure 0 (the
    same server driven by bench/load.py right after)."""
    with constant_server(workdir) as server:
        by_wrk = run(server, "GET", "/job", sizes.seconds, sizes.warmup)
        if not with_python:
            return by_wrk, []
        by_python = python_load(server.url, "GET", "/job", sizes.seconds)
    return by_wrk, [
        Figure(
            "0",
            "constant endpoint driven by bench/load.py (vs wrk, 16 conns each)",
            by_python.rps,
            by_wrk.rps,
            "req/s",
            NO_TARGET,
            None,
            f"{by_wrk.describe('wrk')}; bench/load.py {by_python.generator_cpu:.2f} cores",
            (by_python.p50_ms, by_python.p99_ms),
            by_wrk.latency,
        )
    ]

"""The benchmark harness runs and reports every figure (speed is judged by the
benchmarks themselves, never here)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_admin_url, postgres_reachable

ROOT = Path(__file__).resolve().parents[1]


# It starts real jobtrail processes, and runs every figure once: its own timeout.
pytestmark = [pytest.mark.process, pytest.mark.timeout(600)]


def test_the_benchmarks_run_and_report_every_figure(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        # Debian's wrk drives the HTTP figures; .ci/run installs it.
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed (apt-get install wrk); CI must run the benchmarks.")
        pytest.skip("wrk is not installed (apt-get install wrk; set CI to make this a failure).")
    output = tmp_path / "benchmarks.md"
    backend = "both" if postgres_reachable() else "sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--backend", backend, "--output", str(output)],
        cwd=ROOT,
        # The suite's own cluster, never the machine's server.
        env={**os.environ, "BENCH_POSTGRES_URL": postgres_admin_url()},
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    # The figures' table only: the analysis below it has tables of its own.
    table = report.split("\n| # |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    numbers = [row.split("|")[1].strip() for row in rows]
    backends = 2 if backend == "both" else 1
    # Figures 9 to 12 need the CRUD peer, which needs PostgreSQL.
    expected = {
        number: backends for number in ("1", "2", "3a", "3b", "4", "5", "6", "7", "8", "13")
    }
    expected["0"] = 1
    if backend == "both":
        expected |= {
            "9": 2,
            "9b": 1,
            "9c": 1,
            "9d": 2,
            "10": 2,
            "10b": 2,
            "11": 2,
            "12": 2,
            "12b": 1,
        }
    assert {number: numbers.count(number) for number in set(numbers)} == expected
    for row in rows:
        ratio = row.split("|")[5].strip()
        assert float(ratio) > 0, row
    for row in rows:  # every HTTP figure against the peer shows both sides' latency
        if row.split("|")[1].strip() in {"9", "9b", "9c", "9d", "10", "10b", "11", "12", "12b"}:
            assert row.count("p50") == 2 and row.count("p99") == 2, row
    assert "CPUs" in report and "UTC" in report and "wrk" in report

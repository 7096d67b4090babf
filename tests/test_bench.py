"""The benchmark harness runs and reports every figure (speed is judged by the
benchmarks themselves, never here)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _postgres_reachable

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.process  # it starts real jobtrail processes


def test_the_benchmarks_run_and_report_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    backend = "both" if _postgres_reachable() else "sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--backend", backend, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = output.read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line][1:]
    numbers = sorted({row.split("|")[1].strip() for row in rows})
    assert numbers == ["1", "2", "3a", "3b", "4", "5", "6", "7", "8"]
    backends = 2 if backend == "both" else 1
    assert len(rows) == 9 * backends
    for row in rows:
        ratio = row.split("|")[5].strip()
        assert float(ratio) > 0, row
    assert "CPUs" in report and "UTC" in report

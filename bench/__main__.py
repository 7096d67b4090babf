"""python -m bench [--quick] [--backend sqlite|postgresql|both] [--output docs/benchmarks.md]"""

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import scenarios
from bench.harness import Figure, postgres_available
from bench.sealing import sealing


def run(sizes: scenarios.Sizes, backends: list[str], workdir: Path) -> list[Figure]:
    figures: list[Figure] = []
    for backend in backends:
        # The constant baseline is measured right before each figure that uses it.
        figures += scenarios.scheduling(
            backend, workdir, sizes, scenarios.constant_baseline(workdir, sizes)
        )
        figures += scenarios.get_job(
            backend, workdir, sizes, scenarios.constant_baseline(workdir, sizes)
        )
        figures += scenarios.listing(backend, workdir, sizes)
        figures += scenarios.log_scenarios(backend, workdir, sizes)
        figures += scenarios.deletion(backend, workdir, sizes)
        figures += sealing(backend, workdir, sizes.seconds)
    return sorted(figures, key=lambda f: (f.number, f.name))


def table(figures: list[Figure]) -> Table:
    shown = Table(title="jobtrail benchmarks (ratios measured side by side in one run)")
    for column in ("#", "figure", "value", "baseline", "ratio", "target", "met"):
        shown.add_column(column)
    for f in figures:
        shown.add_row(
            f.number,
            f.name,
            f"{f.value:,.1f} {f.unit}",
            f"{f.baseline:,.1f} {f.unit}",
            f"{f.ratio:.3f}",
            f.target,
            "yes" if f.met else "NO",
        )
    return shown


def markdown(figures: list[Figure], mode: str, seconds: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
        f"`python -m bench{'' if mode == 'full' else ' --' + mode}`"
        f" ({mode} mode, {seconds:.0f} s) on {platform.node()}: {platform.machine()}, "
        f"{_cpus()} CPUs, Python {platform.python_version()}, {platform.platform()}.",
        "",
        "Every figure is a ratio against a baseline measured in the same run on the same machine:",
        "absolute numbers on a shared machine drift, ratios much less.",
        "",
        "| # | figure | value | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        lines.append(
            f"| {f.number} | {f.name} | {f.value:,.1f} {f.unit} | {f.baseline:,.1f} {f.unit} | "
            f"{f.ratio:.3f} | {f.target} | {'yes' if f.met else '**no**'} |"
        )
    analysis = Path(__file__).with_name("analysis.md")
    if analysis.exists():
        lines += ["", analysis.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller volumes, under 2 minutes")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny volumes: checks the harness only"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default=None)
    parser.add_argument("--output", default=None, help="write the markdown report here")
    args = parser.parse_args()
    sizes = scenarios.SMOKE if args.smoke else scenarios.QUICK if args.quick else scenarios.FULL
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    choice = args.backend or ("both" if postgres_available() else "sqlite")
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jobtrail-bench-") as workdir:
        figures = run(sizes, backends, Path(workdir))
    elapsed = time.monotonic() - started
    Console(width=160).print(table(figures))
    report = markdown(figures, mode, elapsed)
    if args.output:
        Path(args.output).write_text(report)
    print(f"{len(figures)} figures in {elapsed:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""python -m bench [--quick] [--backend sqlite|postgresql|both] [--output docs/benchmarks.md]"""

import argparse
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.ceiling import constant_baseline
from bench.databases import FULL, QUICK, SMOKE, PeerDatabase, Sizes, peer_database
from bench.deletion import deletion
from bench.generators import CONNECTIONS, THREADS
from bench.harness import Figure, postgres_available
from bench.http_reads import reading
from bench.http_writes import scheduling
from bench.log_figures import log_scenarios
from bench.proofs import proofs
from bench.sealing import sealing
from bench.servers import Server, peer_server


def run(sizes: Sizes, backends: list[str], workdir: Path, with_peer: bool) -> list[Figure]:
    figures: list[Figure] = []
    with ExitStack() as stack:
        # One peer serves the whole run's HTTP figures; each of its runs goes right
        # before jobtrail's, on its own project and with new user ids.
        peer: Server | None = None
        peer_db: PeerDatabase | None = None
        if with_peer:
            peer_db = stack.enter_context(peer_database(sizes))
            peer = stack.enter_context(peer_server(peer_db.conninfo, peer_db.schema, workdir))
        for backend in backends:
            # For figures 1 (SQLite) and 2; the first also gives figure 0.
            constant, generators = constant_baseline(workdir, sizes, not figures)
            figures += generators
            figures += scheduling(backend, workdir, sizes, constant, peer, peer_db)
            figures += reading(backend, workdir, sizes, constant, peer, peer_db)
    for backend in backends:
        figures += log_scenarios(backend, workdir, sizes)
        figures += deletion(backend, workdir, sizes)
        figures += sealing(backend, workdir, sizes.seconds)
        figures += proofs(backend, workdir, sizes.seconds)
    return sorted(figures, key=_order)


def _order(figure: Figure) -> tuple[int, str, str]:
    number = re.match(r"\d+", figure.number)
    return (int(number.group()) if number else 0, figure.number, figure.name)


def table(figures: list[Figure]) -> Table:
    shown = Table(title="jobtrail benchmarks (ratios measured side by side in one run)")
    for column in ("#", "figure", "value", "baseline", "ratio", "target", "met"):
        shown.add_column(column)
    for f in figures:
        shown.add_row(
            f.number,
            f.name,
            f.value_text,
            f.baseline_text,
            f"{f.ratio:.3f}",
            f.target,
            "-" if f.met is None else "yes" if f.met else "NO",
        )
    return shown


def markdown(figures: list[Figure], mode: str, seconds: float, commit: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
        f"`python -m bench{'' if mode == 'full' else ' --' + mode}`"
        f" ({mode} mode, {seconds:.0f} s) on {platform.node()}: {platform.machine()}, "
        f"{_cpus()} CPUs, Python {platform.python_version()}, {platform.platform()}; "
        f"code at {commit} when the run started.",
        "",
        "Every figure is a ratio against a baseline measured in the same run on the same machine:",
        "absolute numbers on a shared machine drift, ratios much less. HTTP figures are driven",
        f"by {_wrk_version()} ({CONNECTIONS} connections, {THREADS} threads, "
        "bench/lua/requests.lua); figure 0 also by bench/load.py.",
        "",
        "| # | figure | value | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        met = "-" if f.met is None else "yes" if f.met else "**no**"
        lines.append(
            f"| {f.number} | {f.name} | {f.value_text} | {f.baseline_text} | "
            f"{f.ratio:.3f} | {f.target} | {met} |"
        )
    lines += ["", "What each HTTP run did (CPU in cores, averaged over the measured run):", ""]
    lines += [f"- {f.number}, {f.name}: {f.note}." for f in figures if f.note]
    analysis = Path(__file__).with_name("analysis.md")
    if analysis.exists():
        lines += ["", analysis.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def _wrk_version() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        return "wrk"
    shown = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return " ".join(shown.split()[:2]) or "wrk"  # "wrk debian/4.1.0-3+b2"


def _commit() -> str:
    """The commit measured, and whether the working tree differed from it (read only:
    --no-optional-locks keeps git from refreshing its index meanwhile)."""
    git = shutil.which("git")
    if git is None:
        return "an unknown commit"
    base = [git, "--no-optional-locks", "-C", str(Path(__file__).resolve().parents[1])]
    head = subprocess.run([*base, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "an unknown commit"
    changed = subprocess.run([*base, "diff", "--quiet", "HEAD", "--"], capture_output=True)
    return f"{head.stdout.strip()}{' with local changes' if changed.returncode else ''}"


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="smaller volumes (100k), about 5 minutes"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny volumes: checks the harness only"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default=None)
    parser.add_argument("--output", default=None, help="write the markdown report here")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: servers stopped, schemas dropped, files removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    choice = args.backend or ("both" if postgres_available() else "sqlite")
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    started, commit = time.monotonic(), _commit()
    with tempfile.TemporaryDirectory(prefix="jobtrail-bench-") as workdir:
        with_peer = postgres_available()
        if not with_peer:
            print("PostgreSQL is unreachable: no CRUD peer, no figures 9 to 12.", file=sys.stderr)
        figures = run(sizes, backends, Path(workdir), with_peer)
    elapsed = time.monotonic() - started
    Console(width=160).print(table(figures))
    report = markdown(figures, mode, elapsed, commit)
    if args.output:
        Path(args.output).write_text(report)
    print(f"{len(figures)} figures in {elapsed:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

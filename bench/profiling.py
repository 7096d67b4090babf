"""Where a request's time goes: py-spy samples ``jobtrail serve`` while wrk schedules
new users (or reads jobs, ``--route get``), and the hottest functions are printed by
own and total time.

    .venv/bin/pip install py-spy    # not a dependency: only this tool needs it
    .venv/bin/python -m bench.profiling [--backend postgresql] [--route get] [--seconds 20]

Samples exclude threads the kernel shows asleep; a thread waiting in psycopg's own
wait loop still counts, so the default view shows where requests spend their time,
waiting included. ``--gil`` samples only the thread holding the GIL: where the
server's Python CPU goes.
"""

import argparse
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from bench.data import credentials, fill_read_model
from bench.databases import database, services_on
from bench.generators import wrk
from bench.harness import ROOT, analyze_schema
from bench.http_reads import GET
from bench.http_writes import SCHEDULE
from bench.servers import jobtrail_server

READ_MODEL_JOBS = 10_000
"""Jobs in the read model for ``--route get`` to read, as figure 2 reads."""


def hot_spots(raw: str, top: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples, by own time, by total time) from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_function(frame) for frame in stack.split(";")]
        samples += int(count)
        own[frames[-1]] += int(count)
        for function in set(frames):  # once per sample, also when it recurses
            total[function] += int(count)
    return samples, own.most_common(top), total.most_common(top)


def _function(frame: str) -> str:
    """``name (path:line)`` as ``path:name``, the path from site-packages or the repo."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for anchor in ("site-packages/", f"{ROOT}/"):
        if anchor in path:
            path = path.split(anchor, 1)[1]
    return f"{path}:{name}" if path else name


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--route", choices=["schedule", "get"], default="schedule")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--gil", action="store_true", help="only the thread holding the GIL")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(ROOT, ".venv/bin/py-spy"))
    with tempfile.TemporaryDirectory(prefix="jobtrail-profile-") as folder:
        workdir = Path(folder)
        with database(args.backend, workdir, "profile") as url:
            with services_on(url) as services:
                api_key, project_key, project_id = credentials(services)
                fill_read_model(services, project_id, READ_MODEL_JOBS)
            with jobtrail_server(url, workdir) as server:
                method, path = SCHEDULE if args.route == "schedule" else ("GET", GET)
                path, auth = path.format(project=project_key), {"Authorization": api_key}
                wrk(server.url, method, path, 2, auth, ids=READ_MODEL_JOBS)  # warm-up
                if server.schema is not None:
                    analyze_schema(server.schema)  # as a measured run's tables are
                output = workdir / "stacks.txt"
                command = [py_spy, "record", "--pid", str(server.pid), "--format", "raw"]
                command += ["--duration", str(args.seconds), "--rate", "200", "--nonblocking"]
                sampler = subprocess.Popen(
                    [*command, *(["--gil"] if args.gil else []), "--output", str(output)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                report = wrk(server.url, method, path, args.seconds, auth, ids=READ_MODEL_JOBS)
                sampler.wait(timeout=args.seconds + 60)
        samples, own, total = hot_spots(output.read_text(), args.top)
    print(f"{report.rps:,.1f} req/s, p50 {report.p50_ms:.1f} ms, p99 {report.p99_ms:.1f} ms")
    view = "of the thread holding the GIL" if args.gil else "of running threads"
    print(f"{samples:,} samples {view} ({args.backend})")
    for title, rows in (("own time", own), ("total time (the function and its callees)", total)):
        print(f"\nby {title}:")
        for function, count in rows:
            print(f"{count / samples:6.1%}  {function}")


if __name__ == "__main__":
    main()

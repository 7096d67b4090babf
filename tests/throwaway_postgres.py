"""A PostgreSQL cluster of the test's own, in a temporary folder, on a free port.

Tests that stop, break or restart a database use one of these, never the
machine's cluster: other work shares that one.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    return Path(versions[-1]) if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayPostgres:
    def __init__(self, bindir: Path, folder: Path, max_connections: int = 100) -> None:
        self._bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self.max_connections = max_connections

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self._bindir / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        # Durability is worth nothing to a cluster thrown away after the run.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            f" -c max_connections={self.max_connections} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


NOT_INSTALLED = "PostgreSQL's server programs (initdb, pg_ctl) are not installed."


PREFIX = "jobtrail-pg-"


def started_cluster(max_connections: int = 100) -> ThrowawayPostgres | None:
    """A new cluster, created and running; None if PostgreSQL is not installed.
    Whoever gets one removes it with :func:`remove`."""
    bindir = _bindir()
    if bindir is None:
        return None
    _remove_orphans(bindir)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    (folder / "owner").write_text(str(os.getpid()))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = ThrowawayPostgres(bindir, folder, max_connections)
    try:
        cluster.create()
        cluster.start()
    except BaseException:
        remove(cluster)
        raise
    return cluster


def _remove_orphans(bindir: Path) -> None:
    """Stops and removes the clusters whose test process is gone: a run that was
    killed (a timeout, ^C twice) could not remove its own."""
    for owner in Path(tempfile.gettempdir()).glob(f"{PREFIX}*/owner"):
        try:
            pid = int(owner.read_text())
            os.kill(pid, 0)
            continue  # its process is alive: still in use
        except ProcessLookupError:
            pass
        except (ValueError, OSError):
            continue  # half-written, or another user's: not ours to judge
        orphan = ThrowawayPostgres(bindir, owner.parent)
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            orphan._run("pg_ctl", "-D", str(orphan.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(owner.parent, ignore_errors=True)


def remove(cluster: ThrowawayPostgres) -> None:
    # It may never have started, or a test may have left it stopped.
    with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
        cluster.stop()
    shutil.rmtree(cluster.folder, ignore_errors=True)


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    cluster = started_cluster()
    if cluster is None:
        if os.environ.get("CI"):
            pytest.fail(NOT_INSTALLED)
        pytest.skip(NOT_INSTALLED)
    try:
        yield cluster
    finally:
        remove(cluster)

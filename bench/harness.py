"""Figures, databases and memory readings shared by the benchmark scenarios."""

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


Latency = tuple[float, float]
"""(p50, p99) in milliseconds."""


@dataclass(frozen=True)
class Figure:
    number: str
    name: str
    value: float
    baseline: float
    unit: str
    target: str
    met: bool | None
    """None for a figure that reports a cost and has no target."""
    note: str = ""
    value_latency: Latency | None = None
    baseline_latency: Latency | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    @property
    def value_text(self) -> str:
        return _measure(self.value, self.unit, self.value_latency)

    @property
    def baseline_text(self) -> str:
        return _measure(self.baseline, self.unit, self.baseline_latency)


def _measure(amount: float, unit: str, latency: Latency | None) -> str:
    text = f"{amount:,.1f} {unit}"
    if latency is not None:
        text += f" (p50 {latency[0]:,.1f} ms, p99 {latency[1]:,.1f} ms)"
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{POSTGRES_ADMIN_URL}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def analyze_schema(schema: str) -> None:
    """Statistics for every table of a schema, as autovacuum gathers them in a running
    installation: a measured run that starts on tables just filled, or just made,
    would otherwise measure the planner's guesses (without statistics PostgreSQL
    scans a whole table for a few keys)."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def scratch_schema() -> Iterator[str]:
    """A PostgreSQL schema of the CRUD peer's, dropped after the run."""
    schema = f"bench_peer_{uuid.uuid4().hex[:10]}"
    try:
        yield schema
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

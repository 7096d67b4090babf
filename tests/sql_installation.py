"""A database of a test's own for an installation's tables: on SQLite a file in the
test's folder, on PostgreSQL a database in the tests' cluster, dropped at the end.
Written to with plain SQL, read back whole: what a job may change is compared row
by row."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from tests.conftest import postgres_admin_url, require_postgres


class Installation:
    def __init__(self, url: str, backend: str) -> None:
        self.url = url
        """As an operator writes it in a target's url."""
        self.backend = backend

    def execute(self, sql: str, rows: list[dict[str, Any]] | None = None) -> None:
        engine = self._engine()
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), rows or [{}])
        finally:
            engine.dispose()

    def rows(self, queries: dict[str, str]) -> dict[str, set[tuple[Any, ...]]]:
        """Each query's rows, by the query's name."""
        engine = self._engine()
        try:
            with engine.connect() as conn:
                return {
                    name: {tuple(row) for row in conn.execute(text(query))}
                    for name, query in queries.items()
                }
        finally:
            engine.dispose()

    def _engine(self) -> Engine:
        url = make_url(self.url)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, poolclass=NullPool)


@contextmanager
def installed(backend: str, folder: Path) -> Iterator[Installation]:
    """An empty installation on ``backend``."""
    if backend == "sqlite":
        yield Installation(f"sqlite:///{folder / 'installation.db'}", backend)
        return
    require_postgres()
    name = f"installation_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Installation(postgres_admin_url().rsplit("/", 1)[0] + f"/{name}", backend)
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

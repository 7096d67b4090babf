"""`jobtrail openreplay import` refuses a source it cannot read in one line naming
what is wrong as the operator knows it: the URL as they gave it (not the
driver's), the table and column a source lacks (not a Python AttributeError)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import postgres_admin_url, require_postgres
from tests.process.conftest import jobtrail


@pytest.fixture
def source() -> Iterator[str]:
    """An empty throwaway database, dropped at the end."""
    require_postgres()
    name = f"openreplay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def refusal(database_url: str, source_url: str, out: Path) -> str:
    result = jobtrail(
        database_url, "openreplay", "import", "--from", source_url, "--config-out", str(out)
    )
    assert result.returncode == 1
    assert not out.exists()
    *before, line = result.stderr.strip().splitlines()
    assert all(said.startswith("database: ") for said in before), result.stderr
    assert line.startswith("Error: ")
    return line


def test_a_source_that_is_not_postgresql_is_refused_by_the_url_as_given(
    database_url: str, tmp_path: Path
) -> None:
    line = refusal(database_url, "sqlite:///x.db", tmp_path / "t.toml")
    assert "'sqlite:///x.db'" in line
    assert "psycopg" not in line and "postgresql+" not in line


@pytest.mark.parametrize(
    ("schema", "table", "column"),
    [
        (
            "CREATE TABLE public.tenants (tenant_id integer, name text, api_key text);"
            "CREATE TABLE public.projects (id integer, project_key text, tenant_id integer,"
            " name text, deleted_at timestamp);"
            "CREATE TABLE public.sessions (session_id bigint PRIMARY KEY, project_id integer,"
            " user_id text)",
            "public.projects",
            "project_id",
        ),
        (
            "CREATE TABLE public.tenants (tenant_id integer, name text, api_key text);"
            "CREATE TABLE public.projects (project_id integer, project_key text,"
            " tenant_id integer, name text, deleted_at timestamp);"
            "CREATE TABLE public.sessions (session_id bigint PRIMARY KEY, project_id integer)",
            "public.sessions",
            "user_id",
        ),
    ],
)
def test_a_source_missing_a_column_is_refused_naming_its_table_and_column(
    database_url: str, source: str, tmp_path: Path, schema: str, table: str, column: str
) -> None:
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(schema)
    line = refusal(database_url, source, tmp_path / "t.toml")
    assert f"table {table} has no column {column}" in line
    assert "AttributeError" not in line
    assert "password" not in line.lower()

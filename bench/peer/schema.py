"""The peer's tables, and the organization, key, projects and jobs a benchmark run
needs. Synchronous: it runs in the harness, before the peer serves."""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

SEEDED_STATUSES = ("scheduled", "completed", "cancelled", "running", "failed")
"""In bench.data.fill_read_model's order: job n has status n % 5."""
ACTIVE = "('scheduled', 'running')"
"""The statuses the partial unique index covers: one such job per project and user."""

DDL = f"""
CREATE TABLE organizations (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE api_keys (
    key_sha256 char(64) PRIMARY KEY,
    org_id integer NOT NULL REFERENCES organizations
);
CREATE TABLE projects (
    id serial PRIMARY KEY,
    org_id integer NOT NULL REFERENCES organizations,
    project_key text NOT NULL UNIQUE
);
CREATE TABLE jobs (
    job_id bigserial PRIMARY KEY,
    project_id integer NOT NULL REFERENCES projects,
    action text NOT NULL DEFAULT 'delete_user_data',
    reference_id text NOT NULL,
    description text NOT NULL,
    status text NOT NULL,
    errors text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    start_at bigint NOT NULL
);
CREATE UNIQUE INDEX jobs_one_active_per_user ON jobs (project_id, reference_id)
    WHERE status IN {ACTIVE};
CREATE INDEX jobs_by_project ON jobs (project_id, job_id);
CREATE INDEX jobs_by_project_status ON jobs (project_id, status, job_id);
-- What the team's deletion worker would poll, as jobtrail's read model has it.
CREATE INDEX jobs_due ON jobs (start_at) WHERE status = 'scheduled';
"""


@dataclass(frozen=True)
class PeerTenant:
    api_key: str
    project_keys: tuple[str, ...]
    project_ids: tuple[int, ...]


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create(conninfo: str, schema: str, projects: int = 2) -> PeerTenant:
    """The schema, its tables, one organization with one key and ``projects``
    projects (a benchmark keeps one for writes and one for seeded reads)."""
    api_key = secrets.token_urlsafe(32)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(DDL)
        org_id = _one(conn, "INSERT INTO organizations (name) VALUES ('bench') RETURNING id")
        conn.execute(
            "INSERT INTO api_keys (key_sha256, org_id) VALUES (%s, %s)",
            (key_digest(api_key), org_id),
        )
        keys, ids = [], []
        for _ in range(projects):
            keys.append(secrets.token_urlsafe(15))
            ids.append(
                _one(
                    conn,
                    "INSERT INTO projects (org_id, project_key) VALUES (%s, %s) RETURNING id",
                    (org_id, keys[-1]),
                )
            )
    return PeerTenant(api_key, tuple(keys), tuple(ids))


def seed_jobs(conninfo: str, schema: str, project_id: int, count: int) -> None:
    """``count`` jobs in the shape jobtrail's benchmark puts in its read model
    (bench.data.fill_read_model), ids 1 to ``count``: the same rows, the same GETs."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(
            """
            INSERT INTO jobs (job_id, project_id, reference_id, description, status,
                              created_at, updated_at, start_at)
            SELECT n, %(p)s, 'user-' || n || '@example.com',
                   'Delete user sessions of userId = user-' || n || '@example.com',
                   (%(statuses)s::text[])[n %% 5 + 1],
                   1750000000000 + n, 1750000000000 + n, 1750100000000
            FROM generate_series(1, %(count)s) AS n
            """,
            {"p": project_id, "count": count, "statuses": list(SEEDED_STATUSES)},
        )
        conn.execute("SELECT setval('jobs_job_id_seq', (SELECT max(job_id) FROM jobs))")
        conn.execute("ANALYZE jobs")  # as jobtrail's (bench.data.fill_read_model)


def _one(conn: psycopg.Connection[Any], sql: str, params: tuple[object, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])

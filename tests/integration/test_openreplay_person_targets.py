"""What `openreplay import` writes for the person outside their sessions (issue 24,
findings 2 and 5): autocomplete values and scrubbed shared rows, before the sessions
target, for the tables the installation has; run by a real job on OpenReplay's own
column types (jsonb, uuid keys, enums), with jobtrail's store on both backends."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.composition import Services
from domain.lifecycle import JobStatus
from infrastructure.openreplay_person_targets import (
    ANONYMOUS_ID_TYPES,
    USER_ID_TYPES,
    person_value_targets,
)
from infrastructure.openreplay_targets import openreplay_targets, targets_toml
from infrastructure.person_target_config import ScrubTargetConfig, ValuesTargetConfig
from infrastructure.target_config import (
    S3TargetConfig,
    SqlTargetConfig,
    TargetConfig,
    TargetsConfig,
    load_config,
)
from infrastructure.targets import build_targets, check_targets
from tests.conftest import job_now, postgres_admin_url, require_postgres
from tests.integration.test_deletion_targets import write
from tests.runner_support import runner_kit

# OpenReplay v1.25's definitions of these tables (scripts/schema/db/init_dbs/
# postgresql/init_schema.sql), without the foreign keys to projects and users.
OPENREPLAY = """
CREATE TYPE error_source AS ENUM ('js_exception', 'bugsnag', 'sentry');
CREATE TYPE error_status AS ENUM ('unresolved', 'resolved', 'ignored');
CREATE TYPE issue_type AS ENUM ('click_rage', 'dead_click', 'custom');
CREATE TABLE public.sessions (
    session_id bigint PRIMARY KEY, project_id integer NOT NULL, start_ts bigint NOT NULL,
    user_id text DEFAULT NULL, user_anonymous_id text DEFAULT NULL, user_uuid uuid NOT NULL);
CREATE TABLE public.autocomplete (
    value text NOT NULL, type text NOT NULL, project_id integer NOT NULL);
CREATE UNIQUE INDEX autocomplete_unique_project_id_md5value_type_idx
    ON public.autocomplete (project_id, md5(value), type);
CREATE TABLE public.errors (
    error_id text NOT NULL PRIMARY KEY, project_id integer NOT NULL,
    source error_source NOT NULL, name text DEFAULT NULL, message text NOT NULL,
    payload jsonb NOT NULL, status error_status NOT NULL DEFAULT 'unresolved',
    parent_error_id text DEFAULT NULL REFERENCES public.errors (error_id) ON DELETE SET NULL,
    stacktrace jsonb, stacktrace_parsed_at timestamp);
CREATE TABLE public.issues (
    issue_id text NOT NULL PRIMARY KEY, project_id integer NOT NULL, type issue_type NOT NULL,
    context_string text NOT NULL, context jsonb DEFAULT NULL);
CREATE TABLE public.saved_searches (
    search_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), project_id integer NOT NULL,
    user_id integer NOT NULL, name varchar(255) DEFAULT NULL,
    is_public boolean NOT NULL DEFAULT FALSE, is_share boolean NOT NULL DEFAULT FALSE,
    search_data jsonb NOT NULL,
    created_at timestamp NOT NULL DEFAULT timezone('utc'::text, now()),
    expires_at timestamp NULL DEFAULT NULL, deleted_at timestamp NULL DEFAULT NULL);
"""

ALICE = "alice@shop.example"
SESSIONS = "public.sessions"
DATA = """
INSERT INTO sessions VALUES
    (1, 7, 1, 'alice@shop.example', 'anon-a', gen_random_uuid()),
    (2, 7, 2, 'bob@shop.example', 'anon-b', gen_random_uuid()),
    (3, 9, 3, 'alice@shop.example', 'anon-a', gen_random_uuid());
INSERT INTO autocomplete VALUES
    ('alice@shop.example', 'USERID', 7), ('anon-a', 'USERANONYMOUSID', 7),
    ('anon-a', 'USERANONYMOUSID_MOBILE', 7), ('bob@shop.example', 'USERID', 7),
    ('anon-b', 'USERANONYMOUSID', 7), ('alice@shop.example', 'USERID', 9),
    ('/checkout', 'LOCATION', 7);
INSERT INTO errors (error_id, project_id, source, name, message, payload) VALUES
    ('e1', 7, 'js_exception', 'Error', 'Account alice@shop.example is locked',
     '{"user": "alice@shop.example", "retries": 3}'),
    ('e2', 7, 'js_exception', 'Error', 'Account bob@shop.example is locked', '{}'),
    ('e3', 9, 'js_exception', 'Error', 'Account alice@shop.example is locked', '{}');
INSERT INTO issues VALUES ('i1', 7, 'custom', 'Checkout refused for anon-a', NULL);
INSERT INTO saved_searches (project_id, user_id, name, search_data) VALUES
    (7, 1, 'Alice', '{"filters": [{"type": "userId", "value": ["alice@shop.example"]}]}'),
    (7, 1, 'Bob', '{"filters": [{"type": "userId", "value": ["bob@shop.example"]}]}');
"""

FULL = {
    "sessions": {"session_id", "project_id", "user_id", "user_anonymous_id"},
    "autocomplete": {"value", "type", "project_id"},
    "errors": {"error_id", "project_id", "name", "message", "payload", "stacktrace"},
    "crashes_ios": {"crash_ios_id", "project_id", "name", "reason", "stacktrace"},
    "issues": {"issue_id", "project_id", "context_string", "context"},
    "saved_searches": {"search_id", "project_id", "search_data"},
    "searches": {"search_id", "project_id", "filter"},
}


@pytest.fixture
def openreplay_url() -> Iterator[str]:
    require_postgres()
    name = f"openreplay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(OPENREPLAY)
            conn.execute(DATA)
        yield url
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_table_that_names_a_person_gets_a_target_reading_the_sessions() -> None:
    found = person_value_targets("postgresql://or/db", SESSIONS, FULL)

    assert [t.name for t in found] == [
        "public.autocomplete",
        "public.errors",
        "public.crashes_ios",
        "public.issues",
        "public.saved_searches",
        "public.searches",
    ]
    values, errors = found[0], found[1]
    assert isinstance(values, ValuesTargetConfig) and isinstance(errors, ScrubTargetConfig)
    assert (values.user_id_types, values.anonymous_id_types) == (USER_ID_TYPES, ANONYMOUS_ID_TYPES)
    assert (errors.text_columns, errors.json_columns) == (
        ["name", "message"],
        ["payload", "stacktrace"],
    )
    assert {t.identities_from for t in found} == {SESSIONS}


def test_an_older_installation_gets_targets_for_what_it_has() -> None:
    """No saved_searches table, no anonymous id in sessions, no issues.context."""
    older = {
        **{k: v for k, v in FULL.items() if k != "saved_searches"},
        "sessions": {"session_id", "project_id", "user_id"},
        "issues": {"issue_id", "project_id", "context_string"},
    }
    found = {t.name: t for t in person_value_targets("postgresql://or/db", SESSIONS, older)}

    assert "public.saved_searches" not in found
    values, issues = found["public.autocomplete"], found["public.issues"]
    assert isinstance(values, ValuesTargetConfig) and isinstance(issues, ScrubTargetConfig)
    assert values.anonymous_id_types == [] and values.identities_from is None
    assert issues.json_columns == [] and issues.identities_from is None


def test_the_import_deletes_and_scrubs_the_person_on_openreplays_own_tables(
    services: Services, openreplay_url: str, tmp_path: Path
) -> None:
    written = load_config(
        write(tmp_path, targets_toml(openreplay_targets(openreplay_url, "mobs", None, None)))
    )
    names = [t.name for t in written.targets]
    [sessions] = [
        t for t in written.targets if isinstance(t, SqlTargetConfig) and t.sessions_from is None
    ]
    assert names.index("public.autocomplete") < names.index(sessions.name)
    assert names.index("public.saved_searches") < names.index(sessions.name)
    assert sessions.anonymous_id_column == "user_anonymous_id"
    assert "public.crashes_ios" not in names  # not in this installation
    without_s3: list[TargetConfig] = [
        t for t in written.targets if not isinstance(t, S3TargetConfig)
    ]
    targets = build_targets(TargetsConfig(targets=without_s3), services.database)
    check_targets(targets)
    kit = runner_kit(services, tmp_path)

    job_id = kit.schedule(ALICE, project_id=7)
    kit.worker(kit.runner(targets=[*targets])).run_due_jobs()

    assert job_now(kit.services, 7, job_id).status == JobStatus.COMPLETED
    assert kit.services.history.receipt(7, job_id) == {
        "public.autocomplete": 3,
        "public.errors": 1,
        "public.issues": 1,
        "public.saved_searches": 1,
        sessions.name: 1,
    }
    with psycopg.connect(openreplay_url) as conn:
        assert sorted(conn.execute("SELECT value, type, project_id FROM autocomplete")) == [
            ("/checkout", "LOCATION", 7),
            ("alice@shop.example", "USERID", 9),
            ("anon-b", "USERANONYMOUSID", 7),
            ("bob@shop.example", "USERID", 7),
        ]
        assert sorted(conn.execute("SELECT error_id, message, payload FROM errors")) == [
            ("e1", "Account [forgotten] is locked", {"user": "[forgotten]", "retries": 3}),
            ("e2", "Account bob@shop.example is locked", {}),
            ("e3", "Account alice@shop.example is locked", {}),
        ]
        assert list(conn.execute("SELECT context_string FROM issues")) == [
            ("Checkout refused for [forgotten]",)
        ]
        searches: dict[str, str] = dict(
            conn.execute("SELECT name, search_data::text FROM saved_searches").fetchall()
        )
        assert json.loads(searches["Alice"])["filters"][0]["value"] == ["[forgotten]"]
        assert json.loads(searches["Bob"])["filters"][0]["value"] == ["bob@shop.example"]

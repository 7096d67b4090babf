"""An installation shaped like OpenReplay's PostgreSQL, for tests: its sessions, and
a table of each kind that refers to them.

Written here, in the project's own words, after OpenReplay's v1.25 schema
(scripts/schema/db/init_dbs/postgresql/init_schema.sql): sessions keep their
user id, anonymous id and device (``user_uuid``); ``events.*`` and
``events_common.*`` rows go with their session ON DELETE CASCADE (depth 1);
``public.errors_tags`` refers to ``events.errors`` by a composite key, CASCADE
(depth 2, as in OpenReplay); ``public.ut_tests_signals`` is ON DELETE SET NULL and
holds the tester's own comment. Two tables are this fixture's own, for the kinds
OpenReplay's schema lacks: ``public.notes_replies`` (depth 2 by a single column)
and ``public.session_reviews`` (NO ACTION: it refuses its session's delete).

Several users in two projects, and anonymous sessions (no user id) on their
devices: on the person's own, on someone else's, and on one the person shares.

On PostgreSQL it is a database of its own in the tests' cluster (OpenReplay's
schemas included); on SQLite, a file whose table names flatten the schema
(``events.clicks`` is ``events_clicks``), as SQLite has no schemas to refer across.
"""

import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from infrastructure.target_config import SqlTargetConfig
from tests.conftest import postgres_admin_url, require_postgres

PERSON = "alice@shop.example"
WEB, MOBILE = 7, 9
TENANT_KEY = "orKeyTenantA7x9Q2mW4z"
PROJECT_KEYS = {WEB: "shopKey7aaaaaaaaaaaa", MOBILE: "shopKey9bbbbbbbbbbbb"}

ALICE_LAPTOP, ALICE_PHONE, BOB_LAPTOP, SHARED_TABLET, CAROL_PHONE, STRANGER = (
    str(uuid.UUID(int=n)) for n in range(1, 7)
)


@dataclass(frozen=True)
class Session:
    session_id: int
    project_id: int
    user_id: str | None
    device: str

    @property
    def anonymous_id(self) -> str:
        return f"anon-{self.device[-4:]}"


def _sessions() -> list[Session]:
    made: list[Session] = []
    plan: list[tuple[int, str | None, str, int]] = [
        (WEB, PERSON, ALICE_LAPTOP, 8),
        (WEB, PERSON, ALICE_PHONE, 3),
        (WEB, PERSON, SHARED_TABLET, 1),
        (WEB, "bob@shop.example", BOB_LAPTOP, 4),
        (WEB, "bob@shop.example", SHARED_TABLET, 1),
        (WEB, None, ALICE_LAPTOP, 3),  # alice, before she logged in: follow_device
        (WEB, None, ALICE_PHONE, 1),
        (WEB, None, BOB_LAPTOP, 2),
        (WEB, None, SHARED_TABLET, 1),  # alice's or bob's: nobody can tell
        (WEB, None, STRANGER, 1),
        (MOBILE, PERSON, ALICE_PHONE, 4),  # the same person in another project
        (MOBILE, "carol@shop.example", CAROL_PHONE, 3),
        (MOBILE, None, ALICE_PHONE, 1),
        (MOBILE, None, CAROL_PHONE, 1),
    ]
    for project_id, user_id, device, count in plan:
        for _ in range(count):
            first = project_id * 1_000_000
            number = sum(1 for s in made if s.project_id == project_id) + 1
            made.append(Session(first + number, project_id, user_id, device))
    return made


SESSIONS = _sessions()


def sessions_of(project_id: int, user_id: str, follow_device: bool = False) -> set[int]:
    """The session ids a job for this user deletes (with follow_device, the
    anonymous sessions on devices only this user id used in the project too)."""
    own = {s.session_id for s in SESSIONS if (s.project_id, s.user_id) == (project_id, user_id)}
    if not follow_device:
        return own
    in_project = [s for s in SESSIONS if s.project_id == project_id]
    devices = {s.device for s in in_project if s.user_id == user_id}
    shared = {s.device for s in in_project if s.user_id not in (None, user_id)}
    linked = {
        s.session_id for s in in_project if s.user_id is None and s.device in devices - shared
    }
    return own | linked


# Each table: its DDL, then a query of (the session a row belongs to, the whole row).
_SCHEMA: list[tuple[str, str, str]] = [
    (
        "public.tenants",
        "tenant_id integer PRIMARY KEY, name text NOT NULL, api_key text NOT NULL UNIQUE",
        "",
    ),
    (
        "public.projects",
        "project_id integer PRIMARY KEY, project_key varchar(20) NOT NULL UNIQUE, "
        "tenant_id integer NOT NULL REFERENCES {public}tenants (tenant_id), name text NOT NULL, "
        "deleted_at timestamp NULL",
        "",
    ),
    (
        "public.sessions",
        "session_id bigint PRIMARY KEY, "
        "project_id integer NOT NULL REFERENCES {public}projects (project_id) ON DELETE CASCADE, "
        "user_id text DEFAULT NULL, user_anonymous_id text DEFAULT NULL, "
        "user_uuid {uuid} NOT NULL, start_ts bigint NOT NULL, duration integer NULL",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "events.clicks",
        "session_id bigint NOT NULL REFERENCES {public}sessions (session_id) ON DELETE CASCADE, "
        "message_id bigint NOT NULL, timestamp bigint NOT NULL, label text DEFAULT NULL, "
        "PRIMARY KEY (session_id, message_id)",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "events.errors",
        "session_id bigint NOT NULL REFERENCES {public}sessions (session_id) ON DELETE CASCADE, "
        "message_id bigint NOT NULL, timestamp bigint NOT NULL, error_id text NOT NULL, "
        "PRIMARY KEY (session_id, message_id)",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "events_common.requests",
        "session_id bigint NOT NULL REFERENCES {public}sessions (session_id) ON DELETE CASCADE, "
        "timestamp bigint NOT NULL, seq_index integer NOT NULL, url text NOT NULL, "
        "PRIMARY KEY (session_id, timestamp, seq_index)",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "public.errors_tags",
        "key text NOT NULL, value text NOT NULL, session_id bigint NOT NULL, "
        "message_id bigint NOT NULL, FOREIGN KEY (session_id, message_id) "
        "REFERENCES {events}errors (session_id, message_id) ON DELETE CASCADE",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "public.sessions_notes",
        "note_id integer PRIMARY KEY, message text NULL, "
        "session_id bigint NOT NULL REFERENCES {public}sessions (session_id) ON DELETE CASCADE",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "public.notes_replies",
        "reply_id integer PRIMARY KEY, message text NOT NULL, "
        "note_id integer NOT NULL REFERENCES {public}sessions_notes (note_id) ON DELETE CASCADE",
        "SELECT n.session_id, t.* FROM {table} t JOIN {public}sessions_notes n "
        "ON n.note_id = t.note_id",
    ),
    (
        "public.ut_tests_signals",
        "signal_id integer PRIMARY KEY, "
        "session_id bigint NULL REFERENCES {public}sessions (session_id) ON DELETE SET NULL, "
        "status text NOT NULL, comment text NULL, timestamp bigint NOT NULL",
        "SELECT session_id, t.* FROM {table} t",
    ),
    (
        "public.session_reviews",
        "review_id integer PRIMARY KEY, "
        "session_id bigint NOT NULL REFERENCES {public}sessions (session_id), verdict text",
        "SELECT session_id, t.* FROM {table} t",
    ),
]

REFERRING = [name for name, _, query in _SCHEMA if query and name != "public.sessions"]
"""Every table that refers to the sessions, at any depth."""


@dataclass(frozen=True)
class Installation:
    url: str
    """As an operator writes it in a target's url (postgresql://… or sqlite:///…)."""
    backend: Literal["postgresql", "sqlite"]

    def table(self, qualified: str) -> str:
        """The name a target's table has here: ``events.clicks``, or on SQLite
        ``events_clicks``."""
        schema, _, name = qualified.partition(".")
        if self.backend == "postgresql":
            return qualified
        return name if schema == "public" else f"{schema}_{name}"

    def engine(self) -> Engine:
        if self.backend == "sqlite":
            return create_engine(self.url, poolclass=NullPool)
        url = make_url(self.url).set(drivername="postgresql+psycopg")
        return create_engine(url, poolclass=NullPool)

    def execute(self, sql: str, rows: list[dict[str, Any]] | None = None) -> None:
        engine = self.engine()
        try:
            with engine.begin() as conn:
                conn.execute(text(self._named(sql)), rows or {})
        finally:
            engine.dispose()

    def rows_by_session(self) -> dict[str, Counter[tuple[Any, ...]]]:
        """Every row of every table that refers to the sessions (and the sessions'
        own), as (its session, the row): what a job may take is exactly the rows of
        its sessions."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return {
                    name: Counter(
                        tuple(row)
                        for row in conn.execute(text(self._named(query, self.table(name))))
                    )
                    for name, _, query in _SCHEMA
                    if query
                }
        finally:
            engine.dispose()

    def _named(self, sql: str, table: str = "") -> str:
        pg = self.backend == "postgresql"
        return sql.format(
            table=table,
            public="public." if pg else "",
            events="events." if pg else "events_",
            common="events_common." if pg else "events_common_",
            uuid="uuid" if pg else "text",
        )


def without_sessions(
    rows: dict[str, Counter[tuple[Any, ...]]], gone: set[int]
) -> dict[str, Counter[tuple[Any, ...]]]:
    """The rows as they are once these sessions and everything of theirs are gone."""
    return {
        name: Counter({row: n for row, n in counted.items() if row[0] not in gone})
        for name, counted in rows.items()
    }


def counts_of(rows: dict[str, Counter[tuple[Any, ...]]], sessions: set[int]) -> dict[str, int]:
    """How many rows of each table these sessions have."""
    return {
        name: sum(n for row, n in counted.items() if row[0] in sessions)
        for name, counted in rows.items()
    }


def load(installation: Installation) -> None:
    for name, columns, _ in _SCHEMA:
        installation.execute(f"CREATE TABLE {installation.table(name)} ({columns})")
    installation.execute(
        "INSERT INTO {public}tenants VALUES (1, 'Shop', :key)", [{"key": TENANT_KEY}]
    )
    installation.execute(
        "INSERT INTO {public}projects VALUES (:id, :key, 1, :name, NULL)",
        [{"id": p, "key": k, "name": f"project {p}"} for p, k in PROJECT_KEYS.items()],
    )
    installation.execute(
        "INSERT INTO {public}sessions VALUES (:id, :project, :user, :anonymous, :device, "
        ":start, 60)",
        [
            {
                "id": s.session_id,
                "project": s.project_id,
                "user": s.user_id,
                "anonymous": s.anonymous_id,
                "device": s.device,
                "start": 1_700_000_000_000 + s.session_id,
            }
            for s in SESSIONS
        ],
    )
    ids = [{"s": s.session_id, "user": s.user_id or "someone"} for s in SESSIONS]
    every_other = ids[::2]
    for sql, rows in [
        ("INSERT INTO {events}clicks VALUES (:s, 1, :s, 'buy'), (:s, 2, :s + 1, 'pay')", ids),
        ("INSERT INTO {events}errors VALUES (:s, 3, :s, 'error-1')", ids),
        ("INSERT INTO {common}requests VALUES (:s, :s, 1, '/api/cart')", ids),
        ("INSERT INTO {public}errors_tags VALUES ('browser', 'Firefox', :s, 3)", ids),
        ("INSERT INTO {public}sessions_notes VALUES (:s, 'look at this', :s)", every_other),
        ("INSERT INTO {public}notes_replies VALUES (:s, 'seen', :s)", every_other),
        (
            "INSERT INTO {public}ut_tests_signals VALUES (:s, :s, 'done', "
            "'I am ' || :user || ' and the checkout confused me', :s)",
            ids,
        ),
        ("INSERT INTO {public}session_reviews VALUES (:s, :s, 'ok')", ids[::3]),
    ]:
        installation.execute(sql, rows)
    # A signal its session was deleted from long ago: nobody's to delete now.
    installation.execute(
        "INSERT INTO {public}ut_tests_signals VALUES (1, NULL, 'skipped', 'no session', 1)"
    )


@contextmanager
def openreplay_postgresql() -> Iterator[Installation]:
    """A throwaway database in the tests' cluster, loaded, dropped at the end."""
    require_postgres()
    name = f"openreplay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        installation = Installation(
            postgres_admin_url().rsplit("/", 1)[0] + f"/{name}", "postgresql"
        )
        installation.execute("CREATE SCHEMA events")
        installation.execute("CREATE SCHEMA events_common")
        load(installation)
        yield installation
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def openreplay_sqlite(folder: Path) -> Installation:
    """A SQLite file in ``folder``, loaded."""
    folder.mkdir(parents=True, exist_ok=True)
    installation = Installation(f"sqlite:///{folder / 'openreplay.db'}", "sqlite")
    load(installation)
    return installation


@contextmanager
def installed(backend: str, folder: Path) -> Iterator[Installation]:
    """The installation on ``backend`` ("sqlite": a file in ``folder``), loaded."""
    if backend == "sqlite":
        yield openreplay_sqlite(folder)
        return
    with openreplay_postgresql() as made:
        yield made


CHILDREN: list[tuple[str, str, str | list[str], str | list[str] | None]] = [
    ("events.clicks", "public.sessions", "session_id", None),
    ("events.errors", "public.sessions", "session_id", None),
    ("events_common.requests", "public.sessions", "session_id", None),
    (
        "public.errors_tags",
        "events.errors",
        ["session_id", "message_id"],
        ["session_id", "message_id"],
    ),
    ("public.sessions_notes", "public.sessions", "session_id", None),
    ("public.notes_replies", "public.sessions_notes", "note_id", None),
    ("public.ut_tests_signals", "public.sessions", "session_id", None),
    ("public.session_reviews", "public.sessions", "session_id", None),
]
"""(table, the table it refers to, its columns, the columns it refers to unless the key)."""


def session_targets(
    installation: Installation, follow_device: bool = False, leave_out: Collection[str] = ()
) -> list[SqlTargetConfig]:
    """The sessions target and a child for every table that refers to them, as an
    operator writes them by hand (each named after its table, as the import does)."""
    return [
        SqlTargetConfig(
            name="public.sessions",
            url=installation.url,
            table=installation.table("public.sessions"),
            id_column="session_id",
            device_column="user_uuid",
            follow_device=follow_device,
        ),
        *(
            SqlTargetConfig(
                name=table,
                url=installation.url,
                table=installation.table(table),
                sessions_from=parent,
                session_column=columns,
                parent_column=referred,
            )
            for table, parent, columns, referred in CHILDREN
            if table not in leave_out
        ),
    ]

"""A small installation to search for a person in (``jobtrail targets find``): a
sessions table with anonymous ids, their events (a child table, by session key),
tables of shared text no sessions target covers (grouped errors, with JSON; notes,
without a project column), and a folder of recordings by session. Alice has
sessions in two projects: the second project's alice is another person.

On PostgreSQL it is a database of its own in the tests' cluster; on SQLite, a file.
"""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from tests.conftest import postgres_admin_url, require_postgres

ALICE = "alice@example.com"
ALICE_DEVICE = "anon-7f3a91c2"
"""Alice's own browser's anonymous id (nobody else's sessions carry it)."""
SHARED_DEVICE = "anon-family-tablet"
"""Carried by a session of alice and one of bob: not alice's alone."""
WEB, OTHER = 1, 2
BIG = 7_000_000_000_000_000_000
"""Session ids as large as OpenReplay's."""
ALICE_SESSIONS = (BIG + 1, BIG + 2)
BOB_SESSION = BIG + 3
OTHER_ALICE_SESSION = BIG + 4
CAROL_SESSION = BIG + 5


@dataclass(frozen=True)
class Installation:
    url: str
    recordings: Path

    def engine(self) -> Engine:
        url = make_url(self.url)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, poolclass=NullPool)

    def execute(self, sql: str, rows: list[dict[str, object]] | None = None) -> None:
        engine = self.engine()
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), rows or [{}])
        finally:
            engine.dispose()

    def count(self, sql: str) -> int:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(sql)).scalar_one())
        finally:
            engine.dispose()

    def config(self, *, scrub_shared_text: bool = False) -> str:
        """The targets file: the events go with their sessions, the recordings too;
        the errors and the notes are scrubbed of the person only if asked."""
        scrub = (
            f'[[targets]]\nkind = "scrub"\nname = "errors"\ntable = "errors"\nurl = "{self.url}"\n'
            'text_columns = ["message"]\njson_columns = ["payload"]\n'
            'identities_from = "sessions"\n\n'
            f'[[targets]]\nkind = "scrub"\nname = "notes"\ntable = "notes"\nurl = "{self.url}"\n'
            'text_columns = ["body"]\nall_projects = true\nidentities_from = "sessions"\n\n'
            f'[[targets]]\nkind = "scrub"\nname = "mentions"\ntable = "sessions"\n'
            f'url = "{self.url}"\ntext_columns = ["metadata"]\nidentities_from = "sessions"\n\n'
            if scrub_shared_text
            else ""
        )
        return (
            "batch_size = 100\n\n"
            f"{scrub}"
            f'[[targets]]\nkind = "sql"\nname = "events"\ntable = "events"\nurl = "{self.url}"\n'
            'sessions_from = "sessions"\n\n'
            f'[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "sessions"\n'
            f'url = "{self.url}"\nid_column = "session_id"\n'
            'anonymous_id_column = "user_anonymous_id"\n\n'
            f'[[targets]]\nkind = "files"\nname = "recordings"\n'
            f'directory = "{self.recordings}"\npattern = "{{projectId}}/{{sessionId}}"\n'
            'sessions_from = "sessions"\n'
        )


NAMING_ALICE = json.dumps({"user": ALICE})


def load(installation: Installation, json_type: str) -> None:
    installation.execute(
        "CREATE TABLE sessions (session_id BIGINT PRIMARY KEY, project_id INTEGER NOT NULL, "
        "user_id TEXT, user_anonymous_id TEXT, metadata TEXT)"
    )
    installation.execute(
        "CREATE TABLE events (event_id INTEGER PRIMARY KEY, "
        "session_id BIGINT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE, "
        "label TEXT)"
    )
    installation.execute(
        "CREATE TABLE errors (error_id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, "
        f"message TEXT, payload {json_type})"
    )
    installation.execute("CREATE TABLE notes (note_id INTEGER PRIMARY KEY, body TEXT)")
    installation.execute(
        "INSERT INTO notes VALUES (:n, :b)",
        [{"n": 1, "b": f"Called {ALICE} back"}, {"n": 2, "b": "Nobody called"}],
    )
    installation.execute(
        "INSERT INTO sessions VALUES (:s, :p, :u, :a, :m)",
        [
            {"s": ALICE_SESSIONS[0], "p": WEB, "u": ALICE, "a": ALICE_DEVICE, "m": f"{ALICE} plan"},
            {"s": ALICE_SESSIONS[1], "p": WEB, "u": ALICE, "a": SHARED_DEVICE, "m": None},
            # Bob's session mentions her: a row the sessions target never takes.
            {"s": BOB_SESSION, "p": WEB, "u": "bob", "a": SHARED_DEVICE, "m": f"for {ALICE}"},
            {"s": OTHER_ALICE_SESSION, "p": OTHER, "u": ALICE, "a": "anon-x", "m": ALICE},
            # Carol's browser's anonymous id happens to be the text of alice's user id:
            # a value of carol's, in a column the sessions target reads as one.
            {"s": CAROL_SESSION, "p": WEB, "u": "carol", "a": ALICE, "m": None},
        ],
    )
    installation.execute(
        "INSERT INTO events VALUES (:e, :s, :l)",
        [
            {"e": n, "s": s, "l": label}
            for n, (s, label) in enumerate(
                [
                    (ALICE_SESSIONS[0], f"typed {ALICE}"),
                    (ALICE_SESSIONS[1], "click"),
                    (ALICE_SESSIONS[0], "click"),
                    (BOB_SESSION, "click"),
                    # No project column: this row is the other project's by its session.
                    (OTHER_ALICE_SESSION, f"typed {ALICE}"),
                ]
            )
        ],
    )
    installation.execute(
        "INSERT INTO errors VALUES (:e, :p, :m, :j)",
        [
            {"e": 1, "p": WEB, "m": f"Account {ALICE} is locked", "j": NAMING_ALICE},
            {"e": 2, "p": WEB, "m": f"Browser {ALICE_DEVICE} gave up", "j": "{}"},
            # Not alice: another id that merely contains hers, and a shared device.
            {"e": 3, "p": WEB, "m": f"Account m{ALICE} is locked", "j": "{}"},
            {"e": 4, "p": WEB, "m": f"Tablet {SHARED_DEVICE} is slow", "j": "{}"},
            # The other project's alice is another person.
            {"e": 5, "p": OTHER, "m": f"Account {ALICE} is locked", "j": NAMING_ALICE},
        ],
    )
    for project, session in [
        (WEB, ALICE_SESSIONS[0]),
        (WEB, ALICE_SESSIONS[1]),
        (WEB, BOB_SESSION),
        (OTHER, OTHER_ALICE_SESSION),
    ]:
        folder = installation.recordings / str(project) / str(session)
        folder.mkdir(parents=True)
        (folder / "dom.mobs").write_bytes(b"recording")


@contextmanager
def installation(backend: str, folder: Path) -> Iterator[Installation]:
    """The installation on ``backend`` (jobtrail's own store's, in the tests)."""
    recordings = folder / "recordings"
    recordings.mkdir(parents=True)
    if backend == "sqlite":
        made = Installation(f"sqlite:///{folder / 'installation.db'}", recordings)
        load(made, "JSON")
        yield made
        return
    require_postgres()
    name = f"remains_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        made = Installation(postgres_admin_url().rsplit("/", 1)[0] + f"/{name}", recordings)
        load(made, "JSONB")
        yield made
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

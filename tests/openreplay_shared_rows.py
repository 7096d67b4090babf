"""The rows of OpenReplay's PostgreSQL that name people outside their sessions,
added to tests.openreplay_postgresql's database: autocomplete values (user ids and
anonymous ids among the labels), grouped errors, issues and saved searches, after
OpenReplay v1.25's tables. Each row as loaded, and as a job for alice in the web
project leaves it."""

import json
from collections import Counter
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from domain.request import FORGOTTEN
from tests.openreplay_postgresql import (
    ALICE_LAPTOP,
    ALICE_PHONE,
    BOB_LAPTOP,
    MOBILE,
    PERSON,
    SHARED_TABLET,
    WEB,
    Installation,
    Session,
)

BOB = "bob@shop.example"
STAFF = 1


def anonymous(device: str) -> str:
    """The anonymous id the sessions recorded on this device carry."""
    return Session(0, 0, None, device).anonymous_id


LAPTOP, PHONE, TABLET = anonymous(ALICE_LAPTOP), anonymous(ALICE_PHONE), anonymous(SHARED_TABLET)
HER_ANONYMOUS_IDS = (LAPTOP, PHONE)
"""Alice's own anonymous ids in the web project: the tablet's is bob's too."""

Row = tuple[Any, ...]


def deleted(row: Row) -> tuple[Row, Row | None]:
    return row, None


def kept(row: Row) -> tuple[Row, Row | None]:
    return row, row


SHARED_TABLES = """
CREATE TABLE public.autocomplete (
    value text NOT NULL, type text NOT NULL,
    project_id integer NOT NULL REFERENCES public.projects (project_id) ON DELETE CASCADE);
CREATE TABLE public.errors (
    error_id text PRIMARY KEY,
    project_id integer NOT NULL REFERENCES public.projects (project_id) ON DELETE CASCADE,
    source text NOT NULL, name text DEFAULT NULL, message text NOT NULL, payload jsonb NOT NULL,
    parent_error_id text DEFAULT NULL REFERENCES public.errors (error_id) ON DELETE SET NULL,
    stacktrace jsonb);
CREATE TABLE public.issues (
    issue_id text PRIMARY KEY,
    project_id integer NOT NULL REFERENCES public.projects (project_id) ON DELETE CASCADE,
    type text NOT NULL, context_string text NOT NULL, context jsonb DEFAULT NULL);
CREATE TABLE public.saved_searches (
    search_id integer PRIMARY KEY,
    project_id integer NOT NULL REFERENCES public.projects (project_id) ON DELETE CASCADE,
    user_id integer NOT NULL, name text DEFAULT NULL, search_data jsonb NOT NULL);
"""
"""After OpenReplay v1.25's tables (its enums as text, its uuid key as a number)."""


def _error(
    error_id: str,
    project_id: int,
    message: str,
    payload: dict[str, str] | None = None,
    arguments: list[str] | None = None,
    parent: str | None = None,
) -> Row:
    """A grouped error: what its first occurrence said, and where it was thrown."""
    stacktrace = (
        [{"file": "cart.js", "line": 12, "args": [*arguments, "EUR"]}] if arguments else None
    )
    return (
        error_id,
        project_id,
        "js_exception",
        "Error",
        message,
        payload or {},
        parent,
        stacktrace,
    )


def _searching(user: str) -> dict[str, Any]:
    return {"filters": [{"type": "userId", "operator": "is", "value": [user]}]}


SHARED_ROWS: dict[str, list[tuple[Row, Row | None]]] = {
    "public.autocomplete": [
        deleted((PERSON, "USERID", WEB)),
        deleted((LAPTOP, "USERANONYMOUSID", WEB)),
        deleted((PHONE, "USERANONYMOUSID_MOBILE", WEB)),
        kept((TABLET, "USERANONYMOUSID", WEB)),  # bob's tablet too
        kept((BOB, "USERID", WEB)),
        kept((anonymous(BOB_LAPTOP), "USERANONYMOUSID", WEB)),
        kept((PERSON, "CLICK", WEB)),  # a button's label: not a type of ids
        kept(("/checkout", "LOCATION", WEB)),
        kept((PERSON, "USERID", MOBILE)),  # the other project's alice
        kept((PHONE, "USERANONYMOUSID_MOBILE", MOBILE)),
    ],
    "public.errors": [
        (
            _error("error-1", WEB, f"Account {PERSON} is locked", {"user": PERSON}, [LAPTOP]),
            _error(
                "error-1", WEB, f"Account {FORGOTTEN} is locked", {"user": FORGOTTEN}, [FORGOTTEN]
            ),
        ),
        kept(_error("error-2", WEB, f"Account {BOB} is locked", parent="error-1")),
        kept(_error("error-3", MOBILE, f"Account {PERSON} is locked")),
        # A longer identifier that ends in hers; a device someone else used too.
        kept(_error("error-4", WEB, f"Account m{PERSON} is locked")),
        kept(_error("error-5", WEB, f"Tablet {TABLET} gave up")),
    ],
    "public.issues": [
        (
            ("issue-1", WEB, "custom", f"Checkout refused for {LAPTOP}", {"user": PERSON}),
            ("issue-1", WEB, "custom", f"Checkout refused for {FORGOTTEN}", {"user": FORGOTTEN}),
        ),
        kept(("issue-2", WEB, "click_rage", "Rage clicks on /cart", None)),
    ],
    "public.saved_searches": [
        (
            (1, WEB, STAFF, "Alice's sessions", _searching(PERSON)),
            (1, WEB, STAFF, "Alice's sessions", _searching(FORGOTTEN)),
        ),
        kept((2, WEB, STAFF, "Bob's sessions", _searching(BOB))),
        kept((3, MOBILE, STAFF, "Alice on mobile", _searching(PERSON))),
    ],
}
"""Each row as loaded, and as a job for alice in the web project leaves it (None:
deleted); its count on the receipt is the rows it changes."""


def load_shared_rows(installation: Installation) -> None:
    """The tables and their rows, in the installation's PostgreSQL database."""
    with psycopg.connect(installation.url, autocommit=True) as conn:
        conn.execute(SHARED_TABLES)
        for table, rows in SHARED_ROWS.items():
            width = len(rows[0][0])
            insert = f"INSERT INTO {table} VALUES ({', '.join(['%s'] * width)})"
            with conn.cursor() as cursor:
                cursor.executemany(insert, [_adapted(before) for before, _ in rows])


def _adapted(row: Row) -> Row:
    return tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row)


def frozen(row: Row) -> Row:
    """A row as a comparable value: its JSON documents as sorted text."""
    return tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in row)


def hers() -> dict[str, Counter[Row]]:
    """The shared rows that are alice's or name her, as loaded: a job for her
    deletes or scrubs them, and counts them."""
    return {
        table: Counter(frozen(before) for before, after in rows if after != before)
        for table, rows in SHARED_ROWS.items()
    }


def scrubbed() -> dict[str, Counter[Row]]:
    """The shared rows that named alice, as a job for her leaves them."""
    return {
        table: Counter(frozen(after) for before, after in rows if after not in (None, before))
        for table, rows in SHARED_ROWS.items()
    }

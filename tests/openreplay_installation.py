"""The whole of an OpenReplay-shaped installation, for the end-to-end proof that a job
deletes a person (issue 24): tests.openreplay_postgresql's database, with the shared
rows that name people outside their sessions; the same sessions in ClickHouse
(tests.openreplay_clickhouse's tables, on chdb); and their recordings in a bucket
that keeps versions (moto's server). A snapshot of all three, and what of it is
the person's, said here in plain terms rather than by jobtrail's rules.

The person is alice (``PERSON``) in the web project; the same user id in the mobile
project is another person as far as a job knows.
"""

import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

import boto3
import psycopg

from tests import openreplay_clickhouse as ch_fixture
from tests import openreplay_shared_rows as shared_rows
from tests.openreplay_postgresql import (
    ALICE_LAPTOP,
    ALICE_PHONE,
    BOB_LAPTOP,
    MOBILE,
    PERSON,
    REFERRING,
    SESSIONS,
    WEB,
    Installation,
    openreplay_postgresql,
    sessions_of,
)
from tests.openreplay_shared_rows import (
    BOB,
    HER_ANONYMOUS_IDS,
    LAPTOP,
    PHONE,
    STAFF,
    TABLET,
    Row,
    anonymous,
    frozen,
    load_shared_rows,
)

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
    from mypy_boto3_s3 import S3Client

BUCKET = "mobs"
RECORDINGS = "recordings"
"""The name `openreplay import` gives the bucket's target (its receipt line)."""
HER_SESSIONS = sorted(sessions_of(WEB, PERSON))


# ClickHouse: the same sessions, and the rows that name people outside them.


def clickhouse_people() -> list[ch_fixture.Person]:
    """The PostgreSQL fixture's sessions, as the ClickHouse fixture's people (a run
    of consecutive session ids each)."""
    people = []
    for (project_id, user_id, device), run in groupby(
        SESSIONS, key=lambda s: (s.project_id, s.user_id, s.device)
    ):
        ids = [s.session_id for s in run]
        assert ids == list(range(ids[0], ids[-1] + 1))
        people.append(
            ch_fixture.Person(
                project_id, user_id, range(ids[0], ids[-1] + 1), anonymous(device), device
            )
        )
    return people


def _load_clickhouse(ch: "Client") -> None:
    ch_fixture.load_sessions(ch, clickhouse_people())
    tables: list[tuple[str, str, list[list[Any]]]] = [
        (
            "experimental.autocomplete",
            "project_id type value",
            [
                [WEB, "USERID", PERSON],
                [WEB, "USERID_MOBILE", PERSON],
                [WEB, "USERANONYMOUSID", LAPTOP],
                [WEB, "USERANONYMOUSID_IOS", PHONE],
                [WEB, "USERANONYMOUSID", TABLET],  # bob's tablet too: it stays
                [WEB, "USERID", BOB],
                [WEB, "CLICK", PERSON],  # a button's label: it stays
                [MOBILE, "USERID", PERSON],
            ],
        ),
        (
            "experimental.user_viewed_sessions",
            "project_id user_id session_id",
            [
                [WEB, STAFF, HER_SESSIONS[0]],
                [WEB, STAFF, _first(WEB, BOB)],
                [MOBILE, STAFF, _first(MOBILE, PERSON)],
            ],
        ),
        (
            "experimental.user_favorite_sessions",
            "project_id user_id session_id sign",
            [[WEB, STAFF, HER_SESSIONS[1], 1], [WEB, STAFF, _first(WEB, BOB), 1]],
        ),
        (
            "product_analytics.users",
            "project_id $user_id $email $name properties",
            [
                [WEB, PERSON, PERSON, "Alice", {"plan": "gold", "city": "Lyon"}],
                [WEB, BOB, BOB, "Bob", {"plan": "free"}],
                [MOBILE, PERSON, PERSON, "Alice", {}],
            ],
        ),
        (
            "product_analytics.users_distinct_id",
            "project_id distinct_id $user_id",
            [[WEB, ALICE_LAPTOP, PERSON], [WEB, BOB_LAPTOP, BOB], [MOBILE, ALICE_PHONE, PERSON]],
        ),
        (
            "product_analytics.user_devices",
            "project_id $device_id $user_id",
            [
                [WEB, ALICE_LAPTOP, PERSON],
                [WEB, ALICE_LAPTOP, BOB],  # he used her laptop once: his row stays
                [MOBILE, ALICE_PHONE, PERSON],
            ],
        ),
        (  # sent by a backend, outside any session
            "product_analytics.events",
            "project_id event_id $event_name created_at distinct_id $user_id session_id properties",
            [
                [WEB, uuid.uuid4(), "purchase", ch_fixture.T0, "server", PERSON, 0, {"amount": 30}],
                [WEB, uuid.uuid4(), "purchase", ch_fixture.T1, "server", PERSON, 0, {"amount": 12}],
                [WEB, uuid.uuid4(), "purchase", ch_fixture.T2, "server", BOB, 0, {"amount": 5}],
                [MOBILE, uuid.uuid4(), "purchase", ch_fixture.T0, "server", PERSON, 0, {}],
            ],
        ),
    ]
    for table, columns, rows in tables:
        ch.insert(table, rows, column_names=columns.split())


def _first(project_id: int, user_id: str) -> int:
    return min(sessions_of(project_id, user_id))


def clickhouse_person(sessions: Collection[int]) -> dict[str, str]:
    """Alice's rows in the web project, table by table, in plain SQL: those of these
    sessions of hers, and those that name her."""
    web, ids, user = f"project_id = {WEB}", ", ".join(map(str, sorted(sessions))), f"'{PERSON}'"
    anon = ", ".join(f"'{a}'" for a in HER_ANONYMOUS_IDS)
    of_sessions = f"{web} AND session_id IN ({ids})"
    by_user = f"{web} AND `$user_id` = {user}"
    return {
        "experimental.sessions": of_sessions,
        "experimental.events": of_sessions,
        "experimental.ios_events": of_sessions,
        "experimental.user_viewed_sessions": of_sessions,
        "experimental.user_favorite_sessions": of_sessions,
        "experimental.autocomplete": f"{web} AND ((type LIKE 'USERID%' AND value = {user}) "
        f"OR (type LIKE 'USERANONYMOUSID%' AND value IN ({anon})))",
        "product_analytics.autocomplete_simple": f"{web} AND ((name = 'user_id' AND "
        f"value = {user}) OR (name = 'user_anonymous_id' AND value IN ({anon})))",
        "product_analytics.users": by_user,
        "product_analytics.events": f"{of_sessions} OR {by_user}",
        "product_analytics.users_distinct_id": by_user,
        "product_analytics.user_devices": by_user,
    }


# The bucket: every session's recordings in both layouts, each object written twice.

RECORDING_KEYS = ("{s}/dom.mobs", "{s}/devtools.mob", "{s}", "{s}e")


def recording_keys(session_id: int) -> list[str]:
    return [key.format(s=session_id) for key in RECORDING_KEYS]


def _fill_bucket(s3: "S3Client") -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    keys = [key for s in SESSIONS for key in recording_keys(s.session_id)]
    # Keys that begin with her first session's id, as 120's begin with 12's: nobody's here.
    keys += [f"{HER_SESSIONS[0]}{tail}" for tail in ("0", "0e", "e0", "0/dom.mobs")]
    with ThreadPoolExecutor(8) as pool:  # a few seconds one by one
        for version in ("first", "second"):
            written = [
                pool.submit(
                    s3.put_object, Bucket=BUCKET, Key=key, Body=f"{key}, {version}".encode()
                )
                for key in keys
            ]
            for done in written:
                done.result()
    # Deleted once already, without a version id: a delete marker over two versions.
    s3.delete_object(Bucket=BUCKET, Key=f"{HER_SESSIONS[0]}e")
    s3.delete_object(Bucket=BUCKET, Key=f"{_first(WEB, BOB)}e")


Version = tuple[str, str, str]
"""(key, version id, the object's ETag or ``delete marker``)."""


def _versions(s3: "S3Client") -> set[Version]:
    found: set[Version] = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        found |= {(v["Key"], v["VersionId"], v["ETag"]) for v in page.get("Versions", [])}
        found |= {
            (m["Key"], m["VersionId"], "delete marker") for m in page.get("DeleteMarkers", [])
        }
    return found


@dataclass(frozen=True)
class Snapshot:
    """Rows and object versions of the installation (all, or some: the person's)."""

    postgresql: dict[str, Counter[Row]]
    """By table; a row of the sessions' tables begins with its session's id."""
    clickhouse: dict[str, Counter[str]]
    versions: set[Version]

    def counts(self) -> dict[str, int]:
        """How many rows of each table, and versions in the bucket, it holds."""
        return {
            **{table: rows.total() for table, rows in self.postgresql.items()},
            **{table: rows.total() for table, rows in self.clickhouse.items()},
            RECORDINGS: len(self.versions),
        }


def after_the_job(before: Snapshot, hers: Snapshot) -> Snapshot:
    """Everything as it was, but what was hers: gone, or scrubbed of her."""
    return Snapshot(
        {
            table: rows - hers.postgresql[table] + shared_rows.scrubbed().get(table, Counter())
            for table, rows in before.postgresql.items()
        },
        {table: rows - hers.clickhouse[table] for table, rows in before.clickhouse.items()},
        before.versions - hers.versions,
    )


@dataclass(frozen=True)
class WholeInstallation:
    postgresql: Installation
    clickhouse: "Client"
    s3: "S3Client"

    def snapshot(self) -> Snapshot:
        rows = self.postgresql.rows_by_session()
        with psycopg.connect(self.postgresql.url) as conn:
            for schema, name in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('public', 'events', 'events_common')"
            ):
                if f"{schema}.{name}" not in rows:
                    found = conn.execute(f"SELECT * FROM {schema}.{name}").fetchall()
                    rows[f"{schema}.{name}"] = Counter(frozen(row) for row in found)
        tables = self.clickhouse.query(
            "SELECT database || '.' || name FROM system.tables WHERE database IN "
            "{d:Array(String)} AND endsWith(engine, 'MergeTree')",
            parameters={"d": list(ch_fixture.DATABASES)},
        ).result_rows
        return Snapshot(
            rows,
            {t: Counter(ch_fixture.rows_of(self.clickhouse, t)) for (t,) in tables},
            _versions(self.s3),
        )

    def hers(self, everything: Snapshot, follow_device: bool = False) -> Snapshot:
        """Of ``everything``, what is alice's in the web project (with her devices'
        anonymous sessions, if followed), by the plain terms above (read from
        ClickHouse now: take it before the job)."""
        gone = sessions_of(WEB, PERSON, follow_device)
        of_sessions = {"public.sessions", *REFERRING}
        postgresql: dict[str, Counter[Row]] = {
            table: Counter({row: n for row, n in rows.items() if row[0] in gone})
            if table in of_sessions
            else shared_rows.hers().get(table, Counter())
            for table, rows in everything.postgresql.items()
        }
        where = clickhouse_person(gone)
        keys = {key for s in gone for key in recording_keys(s)}
        return Snapshot(
            postgresql,
            {
                table: Counter(
                    ch_fixture.rows_of(self.clickhouse, table, where[table])
                    if table in where
                    else []
                )
                for table in everything.clickhouse
            },
            {v for v in everything.versions if v[0] in keys},
        )


@contextmanager
def whole_installation(s3_endpoint: str) -> Iterator[WholeInstallation]:
    """Loaded in PostgreSQL (a database of its own, dropped at the end), ClickHouse
    (this process's engine, its databases made anew) and a new bucket."""
    ch = ch_fixture.fresh_installation()
    _load_clickhouse(ch)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    _fill_bucket(s3)
    with openreplay_postgresql() as postgresql:
        load_shared_rows(postgresql)
        yield WholeInstallation(postgresql, ch, s3)

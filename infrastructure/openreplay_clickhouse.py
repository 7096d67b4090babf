"""The ClickHouse targets of an OpenReplay installation (1.22 and later), read from
its catalog (``system.tables``, ``system.columns``): whatever tables of its schema
this installation really has, each a target named after it (a receipt per table).

- Values that are the person, first (they read the sessions' anonymous ids):
  ``experimental.autocomplete`` (types ``USERID``, ``USERANONYMOUSID`` and their
  ``_IOS``/``_MOBILE`` forms) and ``product_analytics.autocomplete_simple`` (names
  ``user_id`` and ``user_anonymous_id``, filled from the sessions by a view; and
  ``$user_id``, filled from the profiles and the analytics events since 1.26).
- ``experimental.sessions``, by ``user_id``, its device ``user_uuid`` named
  (``follow_device`` off: an operator turns it on); and every other table with a
  ``project_id`` and a ``session_id`` (``experimental.events``, ``ios_events``,
  the staff's views and favourites of the sessions, ``product_analytics.events``…),
  as rows of those sessions, deleted before them; ``$user_id`` too where a table
  has one (events sent without a session).
- Every other table with a ``project_id`` and a ``$user_id``
  (``product_analytics.users``, ``users_distinct_id``, ``user_devices``), and the
  tables where a view copies a profile's ``$user_id`` as ``user_id`` (its
  properties' names and values, in the newer schema).
"""

from collections import defaultdict

from application.ports import TransientTargetError
from infrastructure.clickhouse_conditions import SCRATCH_PREFIX
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_server import (
    ClickHouseServer,
    ClickHouseTargetError,
    reported_as,
)

DATABASES = ("experimental", "product_analytics")
SESSIONS = "experimental.sessions"
PROJECT, SESSION, USER, ANONYMOUS = "project_id", "session_id", "user_id", "user_anonymous_id"
DEVICE = "user_uuid"
ANALYTICS_USER = "$user_id"
VALUES = {
    "experimental.autocomplete": (
        "type",
        ["USERID", "USERID_IOS", "USERID_MOBILE"],
        ["USERANONYMOUSID", "USERANONYMOUSID_IOS", "USERANONYMOUSID_MOBILE"],
    ),
    "product_analytics.autocomplete_simple": (
        "name",
        ["user_id", "$user_id"],
        ["user_anonymous_id"],
    ),
}

PROFILE_COPIES = frozenset(
    {"product_analytics.user_properties", "product_analytics.autocomplete_user_properties_grouped"}
)
"""Tables whose ``user_id`` is a profile's ``$user_id``, by name: elsewhere a
``user_id`` may be the staff's (``experimental.user_viewed_errors``, a number)."""


class ClickHouseUnreadable(Exception):
    """The installation's ClickHouse catalog could not be read (one line, no secret)."""


def openreplay_clickhouse_targets(url: str) -> list[ClickHouseTargetConfig]:
    return clickhouse_targets_of(url, _catalog(url))


def clickhouse_targets_of(url: str, tables: dict[str, set[str]]) -> list[ClickHouseTargetConfig]:
    """The targets for these tables (each a ``database.table`` with its columns)."""
    sessions = tables.get(SESSIONS, set())
    has_sessions = {PROJECT, SESSION, USER} <= sessions
    anonymous = ANONYMOUS if has_sessions and ANONYMOUS in sessions else None
    values = [
        ClickHouseTargetConfig(
            name=table,
            url=url,
            table=table,
            value_column="value",
            type_column=kind,
            user_id_types=user_types,
            anonymous_id_types=anonymous_types if anonymous else [],
            identities_from=SESSIONS if anonymous else None,
        )
        for table, (kind, user_types, anonymous_types) in VALUES.items()
        if {PROJECT, kind, "value"} <= tables.get(table, set())
    ]
    if not has_sessions:
        return values + _by_user(url, tables)
    parent = ClickHouseTargetConfig(
        name=SESSIONS,
        url=url,
        table=SESSIONS,
        user_id_column=USER,
        anonymous_id_column=anonymous,
        device_column=DEVICE if DEVICE in sessions else None,
    )
    children = [
        ClickHouseTargetConfig(
            name=table,
            url=url,
            table=table,
            sessions_from=SESSIONS,
            user_id_column=ANALYTICS_USER if ANALYTICS_USER in columns else None,
        )
        for table, columns in sorted(tables.items())
        if table != SESSIONS and table not in VALUES and {PROJECT, SESSION} <= columns
    ]
    return [*values, parent, *children, *_by_user(url, tables)]


def _by_user(url: str, tables: dict[str, set[str]]) -> list[ClickHouseTargetConfig]:
    found = []
    for table, columns in sorted(tables.items()):
        user = USER if table in PROFILE_COPIES else ANALYTICS_USER
        if {PROJECT, user} <= columns and SESSION not in columns:
            found.append(
                ClickHouseTargetConfig(name=table, url=url, table=table, user_id_column=user)
            )
    return found


def _catalog(url: str) -> dict[str, set[str]]:
    """The MergeTree-family tables of OpenReplay's databases, with their columns."""
    server = ClickHouseServer(url)
    try:
        with reported_as("ClickHouse catalog", server.shown):
            rows = (
                server.client()
                .query(
                    "SELECT c.database, c.table, c.name FROM system.columns AS c "
                    "JOIN system.tables AS t ON t.database = c.database AND t.name = c.table "
                    "WHERE c.database IN {d:Array(String)} AND endsWith(t.engine, 'MergeTree') "
                    "AND NOT startsWith(c.table, {s:String})",
                    parameters={"d": list(DATABASES), "s": SCRATCH_PREFIX},
                )
                .result_rows
            )
    except (TransientTargetError, ClickHouseTargetError) as error:
        raise ClickHouseUnreadable(f"{error} (--clickhouse)") from None
    finally:
        server.close()
    tables: dict[str, set[str]] = defaultdict(set)
    for database, table, column in rows:
        tables[f"{database}.{table}"].add(str(column))
    return dict(tables)

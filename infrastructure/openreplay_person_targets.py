"""What names the person outside their sessions in OpenReplay's PostgreSQL: the
autocomplete values that are their ids, and the shared rows whose text names them
(grouped errors and crashes, issues, saved searches). Written by ``openreplay
import`` before the sessions target, whose rows give the person's anonymous ids.

Only the tables and columns the installation has are named: an older version
without ``saved_searches`` gets no target for it, where one would fail every check."""

from collections.abc import Collection, Mapping

from sqlalchemy import inspect

from infrastructure.database import Database, parse_database_url
from infrastructure.person_target_config import (
    PersonTargetConfig,
    ScrubTargetConfig,
    ValuesTargetConfig,
)

USER_ID_TYPES = ["USERID", "USERID_MOBILE", "USERID_IOS"]
ANONYMOUS_ID_TYPES = ["USERANONYMOUSID", "USERANONYMOUSID_MOBILE", "USERANONYMOUSID_IOS"]
"""public.autocomplete's types that hold a user's id or anonymous id: web, mobile,
and the iOS types of older versions (their rows outlive an upgrade)."""

SCRUBBED = {
    "errors": (["name", "message"], ["payload", "stacktrace"]),
    "crashes_ios": (["name", "reason", "stacktrace"], []),
    "issues": (["context_string"], ["context"]),
    "saved_searches": ([], ["search_data"]),
    "searches": ([], ["filter"]),
}
"""Shared tables of the public schema: (text columns, JSON columns) that may name a
user (an error's message, a search's filter on a user id)."""

ANONYMOUS_ID_COLUMN = "user_anonymous_id"
Columns = Mapping[str, Collection[str]]


def held_columns(database_url: str) -> Columns:
    """The columns of the public tables these targets may name, by table (a table the
    installation lacks is not there)."""
    database = Database(parse_database_url(database_url))
    try:
        inspector = inspect(database.engine)
        return {
            table: {column["name"] for column in inspector.get_columns(table, schema="public")}
            for table in ["sessions", "autocomplete", *SCRUBBED]
            if inspector.has_table(table, schema="public")
        }
    finally:
        database.dispose()


def anonymous_id_column(held: Columns) -> str | None:
    """Where public.sessions keeps the anonymous id, if it does."""
    return ANONYMOUS_ID_COLUMN if ANONYMOUS_ID_COLUMN in held.get("sessions", ()) else None


def person_value_targets(
    database_url: str, sessions: str, held: Columns
) -> list[PersonTargetConfig]:
    """``sessions``: the sessions target, which must name ``anonymous_id_column``
    (as ``anonymous_id_column(held)`` says) and come after these."""
    source = sessions if anonymous_id_column(held) else None
    found: list[PersonTargetConfig] = []
    if {"value", "type", "project_id"} <= set(held.get("autocomplete", ())):
        found.append(
            ValuesTargetConfig(
                name="public.autocomplete",
                url=database_url,
                table="public.autocomplete",
                type_column="type",
                user_id_types=USER_ID_TYPES,
                anonymous_id_types=ANONYMOUS_ID_TYPES if source else [],
                identities_from=source,
            )
        )
    for table, (text, json) in SCRUBBED.items():
        columns = set(held.get(table, ()))
        if "project_id" not in columns or not columns & {*text, *json}:
            continue
        found.append(
            ScrubTargetConfig(
                name=f"public.{table}",
                url=database_url,
                table=f"public.{table}",
                text_columns=[c for c in text if c in columns],
                json_columns=[c for c in json if c in columns],
                identities_from=source,
            )
        )
    return found

"""A ClickHouse target's configuration (``kind = "clickhouse"``), and what makes one
unusable, said in one line naming the target.

[[targets]]                       # a user's rows: by project and user id
kind = "clickhouse"
name = "experimental.sessions"
url = "http://user:pass@clickhouse:8123/"   # or https://…; chdb:///folder in process
table = "experimental.sessions"   # always with its database
user_id_column = "user_id"
anonymous_id_column = "user_anonymous_id"  # the person's other ids, for values targets
device_column = "user_uuid"       # where a session keeps its device
# follow_device = true            # also the anonymous sessions on the person's devices

[[targets]]                       # rows of the person's sessions, deleted first
kind = "clickhouse"
name = "experimental.events"
url = "http://user:pass@clickhouse:8123/"
table = "experimental.events"
sessions_from = "experimental.sessions"
session_column = "session_id"     # the default, here and on the parent
# user_id_column = "$user_id"     # optional: also the rows naming the person outside them

[[targets]]                       # values that are the person: before the sessions target
kind = "clickhouse"
name = "experimental.autocomplete"
url = "http://user:pass@clickhouse:8123/"
table = "experimental.autocomplete"
value_column = "value"
type_column = "type"
user_id_types = ["USERID"]        # rows of these types whose value is the user id
anonymous_id_types = ["USERANONYMOUSID"]  # … or one of the person's anonymous ids
identities_from = "experimental.sessions"
"""

from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import msgspec

SCHEMES = ("http", "https", "chdb")


class ClickHouseTargetConfig(
    msgspec.Struct,
    tag="clickhouse",
    tag_field="kind",
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    name: str
    url: str
    table: str
    project_id_column: str = "project_id"
    user_id_column: str | None = None
    session_column: str = "session_id"
    sessions_from: str | None = None
    """Rows of the person's sessions: the sessions are those of the clickhouse target
    this names, in its batches; these rows go before the parent's."""
    anonymous_id_column: str | None = None
    device_column: str | None = None
    """Where a session row keeps its device (OpenReplay's ``user_uuid``)."""
    follow_device: bool = False
    """Also delete the project's sessions with no user id recorded on a device of
    the person's sessions (needs ``device_column``; infrastructure.clickhouse_owner)."""
    value_column: str | None = None
    type_column: str | None = None
    user_id_types: list[str] = msgspec.field(default_factory=list)
    anonymous_id_types: list[str] = msgspec.field(default_factory=list)
    identities_from: str | None = None
    """The clickhouse sessions target whose ``anonymous_id_column`` holds the person's
    anonymous ids (each one theirs only if no other user id's session carries it)."""

    @property
    def is_values(self) -> bool:
        return self.value_column is not None

    @property
    def is_child(self) -> bool:
        return self.sessions_from is not None

    def database_and_table(self) -> tuple[str, str]:
        database, _, table = self.table.partition(".")
        return database, table


def clickhouse_problems(targets: Sequence[object]) -> Iterator[str]:
    """What makes the clickhouse targets of a configuration unusable, one line each."""
    order = {getattr(t, "name", ""): i for i, t in enumerate(targets)}
    sessions = {
        t.name: t
        for t in targets
        if isinstance(t, ClickHouseTargetConfig) and not t.is_child and not t.is_values
    }
    for target in targets:
        if isinstance(target, ClickHouseTargetConfig):
            yield from _problems(target, sessions, order)


def _problems(
    t: ClickHouseTargetConfig, sessions: dict[str, ClickHouseTargetConfig], order: dict[str, int]
) -> Iterator[str]:
    who = f"Target {t.name}"
    database, table = t.database_and_table()
    if not database or not table:
        yield f'{who}: name the table with its database (table = "experimental.sessions").'
    if urlsplit(t.url).scheme not in SCHEMES:
        yield f"{who}: url must be http://…, https://… or chdb:///folder."
    if t.anonymous_id_column is not None and t.name not in sessions:
        yield f"{who}: anonymous_id_column belongs on a target of the person's sessions."
    if t.device_column is not None and t.name not in sessions:
        yield f"{who}: device_column belongs on a target of the person's sessions."
    if t.follow_device and (t.device_column is None or t.name not in sessions):
        yield (
            f"{who}: follow_device goes with a device_column, on a target of sessions "
            "(not a child)."
        )
    if t.is_values:
        yield from _values_problems(t, sessions, order)
    elif t.is_child:
        parent = sessions.get(t.sessions_from or "")
        if parent is None:
            yield (
                f"{who}: sessions_from must name a clickhouse target of the person's "
                "sessions (one with user_id_column, without sessions_from)."
            )
    elif t.user_id_column is None:
        yield f"{who}: name the user_id_column (or sessions_from, or value_column)."


def _values_problems(
    t: ClickHouseTargetConfig, sessions: dict[str, ClickHouseTargetConfig], order: dict[str, int]
) -> Iterator[str]:
    who = f"Target {t.name}"
    if t.sessions_from is not None or t.user_id_column is not None:
        yield f"{who}: a values target (value_column) names no sessions_from or user_id_column."
    types = t.user_id_types + t.anonymous_id_types
    if t.type_column is None and types:
        yield f"{who}: user_id_types and anonymous_id_types need the type_column."
    if t.type_column is not None and not types:
        # Without them every type would match: a button labelled with someone's id
        # is not that person's row.
        yield f"{who}: name the user_id_types or anonymous_id_types of type_column."
    if t.anonymous_id_types and t.identities_from is None:
        yield f"{who}: anonymous_id_types need identities_from."
    if t.identities_from is not None:
        source = sessions.get(t.identities_from)
        if source is None or source.anonymous_id_column is None:
            yield (
                f"{who}: identities_from must name a clickhouse sessions target "
                "with an anonymous_id_column."
            )
        elif order[source.name] < order[t.name]:
            # The anonymous ids are read from the sessions: once they are gone, so
            # is the only record of which values were the person's.
            yield f"{who}: it must come before {source.name} in the file (it reads its sessions)."

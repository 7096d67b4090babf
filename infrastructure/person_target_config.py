"""The configuration of the targets that find the person by value: rows whose value
is the person (``kind = "values"``), and shared rows scrubbed of them
(``kind = "scrub"``). Part of the TOML that infrastructure.target_config reads:

[[targets]]
kind = "values"
name = "public.autocomplete"
table = "public.autocomplete"     # value_column = "value", project_id_column = "project_id"
type_column = "type"              # optional: without it, any row whose value is an id
user_id_types = ["USERID", "USERID_MOBILE"]
anonymous_id_types = ["USERANONYMOUSID", "USERANONYMOUSID_MOBILE"]
identities_from = "public.sessions"  # a sql target with anonymous_id_column, AFTER this

[[targets]]
kind = "scrub"
name = "public.errors"
table = "public.errors"
text_columns = ["name", "message"]
json_columns = ["payload", "stacktrace"]  # jsonb, json, or TEXT holding JSON
identities_from = "public.sessions"
# all_projects = true: for a table without a project column (see the field)
"""

import msgspec


class ValuesTargetConfig(
    msgspec.Struct, tag="values", tag_field="kind", forbid_unknown_fields=True, omit_defaults=True
):
    """Rows whose value IS the person: the user id, or one of their anonymous ids
    (OpenReplay's ``public.autocomplete``), in the project."""

    name: str
    table: str
    url: str | None = None
    schema: str | None = None
    value_column: str = "value"
    project_id_column: str = "project_id"
    type_column: str | None = None
    """With it, the user id is looked for in rows of ``user_id_types`` only, and the
    anonymous ids in rows of ``anonymous_id_types`` only."""
    user_id_types: list[str] = msgspec.field(default_factory=list)
    anonymous_id_types: list[str] = msgspec.field(default_factory=list)
    identities_from: str | None = None
    """The sql target (sessions) whose rows' ``anonymous_id_column`` gives the
    person's anonymous ids; it must come after this target, which reads it first."""

    def schema_and_table(self) -> tuple[str | None, str]:
        return schema_and_table(self.schema, self.table)

    def __post_init__(self) -> None:
        if self.type_column is None and (self.user_id_types or self.anonymous_id_types):
            raise ValueError(f"Target {self.name}: name the type_column the types are in.")
        if self.type_column is not None and not (self.user_id_types or self.anonymous_id_types):
            raise ValueError(f"Target {self.name}: name user_id_types or anonymous_id_types.")
        if self.anonymous_id_types and self.identities_from is None:
            raise ValueError(
                f"Target {self.name}: anonymous_id_types needs identities_from (the sessions)."
            )


class ScrubTargetConfig(
    msgspec.Struct, tag="scrub", tag_field="kind", forbid_unknown_fields=True, omit_defaults=True
):
    """Rows shared with other people (a grouped error, a saved search): the person's
    ids in these columns are replaced by the marker; the rows stay."""

    name: str
    table: str
    url: str | None = None
    schema: str | None = None
    text_columns: list[str] = msgspec.field(default_factory=list)
    json_columns: list[str] = msgspec.field(default_factory=list)
    """JSON (jsonb, json, or TEXT holding JSON): ids replaced inside its strings."""
    project_id_column: str = "project_id"
    all_projects: bool = False
    """For a table without a project column: every row is scrubbed, whichever project
    it is of (a same-named user of another project loses their mentions too)."""
    identities_from: str | None = None

    def schema_and_table(self) -> tuple[str | None, str]:
        return schema_and_table(self.schema, self.table)

    def __post_init__(self) -> None:
        if not (self.text_columns or self.json_columns):
            raise ValueError(f"Target {self.name}: name text_columns or json_columns.")


def schema_and_table(schema: str | None, table: str) -> tuple[str | None, str]:
    """``schema = "public"`` or a dotted ``table = "public.sessions"``."""
    if schema is not None:
        return schema, table
    found, dot, name = table.rpartition(".")
    return (found, name) if dot else (None, table)


PersonTargetConfig = ValuesTargetConfig | ScrubTargetConfig

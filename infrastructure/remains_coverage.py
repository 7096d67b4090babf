"""Which target answers for each column a scan reads (``jobtrail targets find``).

A column a target *interprets* (its user id, anonymous id, device and key columns,
a values target's value and type) is answered by that target's own count, by its
rule: ``alice`` as another user's anonymous id, or as a button's label in an
autocomplete table, is not the person, and the target's ``remaining()`` knows it
where the text alone cannot. The scan reads every other text-like column.

What it finds there is covered by a target that reaches it: a scrub target's
columns; a row target's table while that target still counts rows of the
person (after, what is left there is in someone else's rows, and no target will
take it).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.person_target_config import ScrubTargetConfig, ValuesTargetConfig
from infrastructure.target_config import SqlTargetConfig, column_names


@dataclass(frozen=True)
class Through:
    """The sessions a child table's rows belong to (``column`` holds their ``key``):
    a table without a project column is read for the rows of no other project's
    sessions (rows of none, detached, are read whatever their project)."""

    schema: str | None
    table: str
    key: str
    project: str
    column: str


@dataclass(frozen=True)
class Rule:
    target: str
    schema: str | None
    table: str
    interprets: frozenset[str]
    reaches: frozenset[str] | None
    """The columns whose text the target removes; None: every column of the rows it
    deletes (a row target)."""
    through: Through | None = None


class Coverage:
    """The rules of one store's targets, with what each still counts of the person."""

    def __init__(
        self,
        rules: Sequence[Rule],
        default_schema: str,
        remaining: Mapping[str, int],
        case_insensitive: bool = False,
    ) -> None:
        self._rules = rules
        self._default = default_schema
        self._remaining = remaining
        self._fold = case_insensitive

    def interprets(self, schema: str, table: str, column: str) -> bool:
        return any(column in rule.interprets for rule in self._rules_of(schema, table))

    def through(self, schema: str, table: str) -> Through | None:
        return next((r.through for r in self._rules_of(schema, table) if r.through), None)

    def covered_by(self, schema: str, table: str, column: str) -> str | None:
        for rule in self._rules_of(schema, table):
            if rule.reaches is None and self._remaining.get(rule.target, 0) > 0:
                return rule.target
            if rule.reaches is not None and column in rule.reaches:
                return rule.target
        return None

    def _rules_of(self, schema: str, table: str) -> list[Rule]:
        return [
            rule
            for rule in self._rules
            if self._same(rule.schema or self._default, schema) and self._same(rule.table, table)
        ]

    def _same(self, a: str, b: str) -> bool:
        return a.lower() == b.lower() if self._fold else a == b


SqlConfig = SqlTargetConfig | ValuesTargetConfig | ScrubTargetConfig
SQL_KINDS = (SqlTargetConfig, ValuesTargetConfig, ScrubTargetConfig)


def sql_rule(t: SqlConfig, every: Sequence[object]) -> Rule:
    schema, table = t.schema_and_table()
    if isinstance(t, ValuesTargetConfig):
        interprets = {t.value_column, *([t.type_column] if t.type_column else [])}
        return Rule(t.name, schema, table, frozenset(interprets), frozenset(interprets))
    if isinstance(t, ScrubTargetConfig):
        return Rule(t.name, schema, table, frozenset(), frozenset(t.text_columns + t.json_columns))
    if t.sessions_from is not None:  # a child: its rows are found by its keys
        keys = column_names(t.session_column) + column_names(t.parent_column or [])
        return Rule(t.name, schema, table, frozenset(keys), None, _through(t, every))
    named = [t.user_id_column, t.anonymous_id_column, t.device_column, t.id_column]
    return Rule(t.name, schema, table, frozenset(c for c in named if c), None)


def _through(child: SqlTargetConfig, every: Sequence[object]) -> Through | None:
    """A child of the sessions by their own key, in their database."""
    root = next(
        (t for t in every if isinstance(t, SqlTargetConfig) and t.name == child.sessions_from),
        None,
    )
    columns = column_names(child.session_column)
    if root is None or root.sessions_from or root.id_column is None or root.url != child.url:
        return None
    if child.parent_column is not None or len(columns) != 1:
        return None
    schema, table = root.schema_and_table()
    return Through(schema, table, root.id_column, root.project_id_column, columns[0])


def clickhouse_rule(t: ClickHouseTargetConfig) -> Rule:
    database, table = t.database_and_table()
    named = [t.user_id_column, t.anonymous_id_column, t.value_column, t.type_column]
    interprets = frozenset(c for c in [*named, t.session_column] if c)
    if t.is_values:
        return Rule(t.name, database, table, interprets, interprets)
    return Rule(t.name, database, table, interprets, None)

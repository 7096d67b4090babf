"""Rows shared with other people that name the person (a grouped error's message, an
issue's context, a staff member's saved search): the rows stay, and the person's
ids in the configured text and JSON columns are replaced by the marker
(domain.scrubbing). The receipt counts the rows changed.

Only the project's rows are read and written, unless the target says the table has
no project column (``all_projects``). A batch reads the candidates (rows whose text
holds an id's letters and digits, in order: every encoding of it keeps them), finds
the person in them, and writes each changed row back only if it still holds what
was read: the row's key (where it has one) and the old value of each column changed,
compared exactly (infrastructure.sql_exact): in a column that folds case, a row
``Called Alice back`` beside ``Called alice back`` is another row, and stays.
"""

from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    String,
    Text,
    bindparam,
    cast,
    or_,
    select,
    true,
    update,
)

from domain.scrubbing import (
    ascii_runs,
    json_names_person,
    names_person,
    scrubbed_json,
    scrubbed_text,
)
from infrastructure.person_table import PersonTable
from infrastructure.person_target_config import ScrubTargetConfig
from infrastructure.sql_errors import reported_as
from infrastructure.sql_exact import exactly
from infrastructure.sql_tables import checked_table
from infrastructure.target_config import ConfigError

_MOST_LIKES = 200
"""Past this many LIKE terms the candidates are every row of the project: SQLite
parses a long OR as a deep expression, and refuses one deeper than 1000."""

Change = tuple[dict[str, Any], dict[str, str]]
"""A row as read (its key and the columns' old values), and its columns' new values."""


class ScrubTarget(PersonTable[ScrubTargetConfig]):
    def check(self) -> None:
        config = self._config
        table = checked_table(self.name, config.table, self._resolved, [])
        if not config.all_projects and config.project_id_column not in table.c:
            raise ConfigError(
                f"Target {self.name}: table {config.table!r} has no column "
                f"{config.project_id_column!r} (set all_projects if it has no project column)."
            )
        for column in [*config.text_columns, *config.json_columns]:
            if column not in table.c:
                raise ConfigError(
                    f"Target {self.name}: table {config.table!r} has no column {column!r}."
                )
            kind = table.c[column].type
            if not isinstance(kind, String | JSON) or isinstance(kind, Enum):
                raise ConfigError(
                    f"Target {self.name}: column {column!r} holds no text (its type is {kind})."
                )
            if column in config.text_columns and isinstance(kind, JSON):
                raise ConfigError(
                    f"Target {self.name}: column {column!r} is JSON: name it in json_columns."
                )
        self._identities.check(self.name)

    def describe(self) -> list[str]:
        columns = ", ".join([*self._config.text_columns, *self._config.json_columns])
        return [
            f"{self.name}: {self._identities.describe()} scrubbed from {columns} "
            f"of table {self._config.table}"
        ]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        ids = self._identities.of(project_id, user_id)
        changed = 0
        # Durable, like the log: a BatchDeleted event must never outlive its change.
        with reported_as(self._label), self._database.writer() as conn:
            for old, new in self._changes(conn, project_id, ids, limit):
                changed += conn.execute(self._update(project_id, old, new)).rowcount
        return {self.name: changed}

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        ids = self._identities.of(project_id, user_id)
        with reported_as(self._label), self._database.reader() as conn:
            return {self.name: len(self._changes(conn, project_id, ids, None))}

    def _changes(
        self, conn: Any, project_id: int, ids: list[str], limit: int | None
    ) -> list[Change]:
        """Up to ``limit`` rows that name the person, with their scrubbed values;
        locked on PostgreSQL until the transaction ends."""
        if not ids:
            return []
        query = self._candidates(project_id, ids)
        if limit is not None and self._database.backend == "postgresql":
            query = query.with_for_update()
        found: list[Change] = []
        result = conn.execute(query.execution_options(yield_per=500))
        try:
            for row in result.mappings():
                new = self._scrubbed(row, ids)
                if new:
                    found.append((dict(row), new))
                    if limit is not None and len(found) >= limit:
                        break
        finally:
            result.close()  # the writes come after, on the same connection
        return found

    def _candidates(self, project_id: int, ids: list[str]) -> Any:
        table = self._resolved()
        columns = self._read_columns()
        key = [c.label(f"key_{n}") for n, c in enumerate(table.primary_key.columns)]
        # An id without letters or digits is '%': every row with a value.
        patterns = sorted({"%".join(["", *ascii_runs(one), ""]) for one in ids})
        likes = [column.like(pattern) for column in columns.values() for pattern in patterns]
        holds = or_(*likes) if len(likes) <= _MOST_LIKES else true()
        return select(*key, *(c.label(name) for name, c in columns.items())).where(
            self._in_project(project_id), holds
        )

    def _scrubbed(self, row: Any, ids: list[str]) -> dict[str, str]:
        new = {}
        for column in self._config.text_columns:
            old = row[column]
            if old is not None and names_person(old, ids):
                new[column] = scrubbed_text(old, ids)
        for column in self._config.json_columns:
            old = row[column]
            if old is not None and json_names_person(old, ids):
                new[column] = scrubbed_json(old, ids)
        return new

    def _update(self, project_id: int, old: dict[str, Any], new: dict[str, str]) -> Any:
        table = self._resolved()
        read = self._read_columns()
        keys = enumerate(table.primary_key.columns)
        same_key = [exactly(c, old[f"key_{n}"]) for n, c in keys]
        unchanged = [exactly(read[name], old[name]) for name in new]
        values = {
            table.c[name]: self._written(table.c[name], name, value) for name, value in new.items()
        }
        return (
            update(table).where(self._in_project(project_id), *same_key, *unchanged).values(values)
        )

    def _written(self, column: Any, name: str, value: str) -> Any:
        parameter = bindparam(f"new_{name}", value, type_=Text)
        if isinstance(column.type, JSON) and self._database.backend == "postgresql":
            return cast(parameter, column.type)  # jsonb from its text, as it was read
        return parameter

    def _read_columns(self) -> dict[str, Any]:
        """Each column as text: a JSON column's document as the database writes it."""
        table = self._resolved()
        columns: dict[str, Any] = {name: table.c[name] for name in self._config.text_columns}
        columns.update({name: cast(table.c[name], Text) for name in self._config.json_columns})
        return columns

    def _in_project(self, project_id: int) -> Any:
        if self._config.all_projects:
            return true()
        return self._resolved().c[self._config.project_id_column] == project_id

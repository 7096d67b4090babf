"""Rows whose value is the person (OpenReplay's ``public.autocomplete``): no foreign
key leads to them from the sessions, so nothing cascades to them.

A row goes when, in the project, its value is the user id (in a row of a user id
type, where the table has a type column) or one of the person's own anonymous ids
(in a row of an anonymous id type): a value another user's sessions also carry is
not the person's (infrastructure.person_identities), and stays. A value is the id
exactly (infrastructure.sql_exact): ``Alice`` is not ``alice``, whatever the
column's collation.
"""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    delete,
    func,
    literal_column,
    select,
)

from domain.scrubbing import identities
from infrastructure.person_table import PersonTable
from infrastructure.person_target_config import ValuesTargetConfig
from infrastructure.sql_errors import reported_as
from infrastructure.sql_exact import exactly_in
from infrastructure.sql_tables import checked_table
from infrastructure.target_config import ConfigError

_CHUNK = 500
"""Values per statement: a person may have many anonymous ids, a statement only so
many parameters (SQLite's limit)."""


class ValueRowsTarget(PersonTable[ValuesTargetConfig]):
    def check(self) -> None:
        config = self._config
        table = checked_table(
            self.name,
            config.table,
            self._resolved,
            [config.value_column, config.project_id_column, config.type_column],
        )
        if not isinstance(table.c[config.value_column].type, String):
            raise ConfigError(
                f"Target {self.name}: column {config.value_column!r} holds no text, "
                "so no id is its value."
            )
        self._identities.check(self.name)

    def describe(self) -> list[str]:
        return [
            f"{self.name}: rows of table {self._config.table} whose "
            f"{self._config.value_column} is {self._identities.describe()}"
        ]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        row_id: Any = literal_column("ctid" if self._database.backend == "postgresql" else "rowid")
        table = self._resolved()
        deleted = 0
        conditions = list(self._owned(project_id, user_id))
        # Durable, like the log: a BatchDeleted event must never outlive its deletion.
        with reported_as(self._label), self._database.writer() as conn:
            for owned in conditions:
                if deleted >= limit:
                    break
                # The batch is chosen by the rows' own identity, and the DELETE checks
                # the value again: a row changed meanwhile to someone else's stays.
                batch = select(row_id).where(owned).limit(limit - deleted).scalar_subquery()
                result = conn.execute(delete(table).where(row_id.in_(batch) & owned))
                deleted += result.rowcount
        return {self.name: deleted}

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        table = self._resolved()
        conditions = list(self._owned(project_id, user_id))
        with reported_as(self._label), self._database.reader() as conn:
            count = sum(
                int(conn.execute(select(func.count()).select_from(table).where(owned)).scalar_one())
                for owned in conditions
            )
        return {self.name: count}

    def _owned(self, project_id: int, user_id: str) -> Iterator[ColumnElement[bool]]:
        """The person's rows, a chunk of values at a time (no row is in two chunks)."""
        config = self._config
        table = self._resolved()
        project = table.c[config.project_id_column] == project_id
        value = table.c[config.value_column]
        found = self._identities.anonymous_ids(project_id, user_id)
        if config.type_column is None:
            for chunk in _chunks(identities(user_id, found)):
                yield and_(project, exactly_in(value, chunk))
            return
        kind = table.c[config.type_column]
        user, anonymous = identities(user_id, []), identities("", found)
        if config.user_id_types and user:
            yield and_(project, kind.in_(config.user_id_types), exactly_in(value, user))
        if config.anonymous_id_types:
            for chunk in _chunks(anonymous):
                yield and_(project, kind.in_(config.anonymous_id_types), exactly_in(value, chunk))


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]

"""What the values and scrub targets share: their configuration, their database, the
person's identities, and their table, reflected once."""

from typing import Generic, Protocol, TypeVar

from sqlalchemy import Table

from infrastructure.database import Database
from infrastructure.person_identities import PersonIdentities
from infrastructure.sql_tables import reflected


class TableTargetConfig(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def table(self) -> str: ...

    def schema_and_table(self) -> tuple[str | None, str]: ...


Config = TypeVar("Config", bound=TableTargetConfig)


class PersonTable(Generic[Config]):
    counts_exactly = True  # a row two workers delete or change at once counts once

    def __init__(self, config: Config, database: Database, identities: PersonIdentities) -> None:
        self._config = config
        self._database = database
        self._identities = identities
        self._table: Table | None = None

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def _label(self) -> str:
        return f"{self.name}: table {self._config.table}"

    def _resolved(self) -> Table:
        if self._table is None:
            self._table = reflected(self._config, self._database)
        return self._table

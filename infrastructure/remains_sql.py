"""A SQL database searched for a person, column by column (``jobtrail targets find``).

Every user table the catalog lists (PostgreSQL's pg_catalog, every schema but the
system's; SQLite's sqlite_master) is read, whatever the targets name:
- its text-like columns (text, varchar, char, citext, json, jsonb, xml, arrays of
  them; SQLite's TEXT, CHAR, CLOB, JSON and untyped columns), for rows that name
  the person: the user id or one of their anonymous ids, as a whole identifier, in
  any encoding (domain.scrubbing's rule, the one scrub targets remove by);
- its columns named like a session key (``session_id``…), for the person's
  sessions' keys, compared as text, exactly (infrastructure.sql_exact: a column that
  folds case would take ``AB`` for ``ab``).
Rows are those of the project where the table has a project column; a table
without one is read whole. jobtrail's own tables (the log, the read model, keys)
are its record of the deletion, kept and forgotten by its own rules (ADR 18): not
searched.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, column, exists, false, func, or_, select, table, text, true

from application.identities import Findings
from domain.remains import RemainsPlace
from domain.scrubbing import ascii_runs, json_names_person, names_person
from infrastructure.database import Database
from infrastructure.rebuild import REBUILD_TABLE, RETIRED_TABLE
from infrastructure.remains_coverage import Coverage, Through
from infrastructure.sql_catalog import default_schema
from infrastructure.sql_errors import reported_as
from infrastructure.sql_exact import exactly_in
from infrastructure.tables import metadata

_JOBTRAIL_MARKS = frozenset({"event_chain", "projection_positions"})
"""Tables only jobtrail makes: a schema holding both is jobtrail's (as in
infrastructure.database)."""
JOBTRAIL_TABLES = frozenset(
    {*metadata.tables, "stored_events", "jobtrail_events", REBUILD_TABLE, RETIRED_TABLE}
)
_MOST_LIKES = 200
"""Past this many LIKE terms a table's rows of the project are all read (SQLite
refuses an expression deeper than 1000)."""
_KEYS_PER_QUERY = 500

_POSTGRESQL_COLUMNS = text(
    r"""
    SELECT n.nspname::text, c.relname::text, a.attname::text,
           CASE WHEN t.typname IN ('json', 'jsonb') THEN 'json'
                WHEN t.typcategory = 'S' OR t.typname = 'xml' THEN 'text'
                WHEN t.typcategory = 'A' AND (e.typcategory = 'S'
                     OR e.typname IN ('json', 'jsonb', 'xml')) THEN 'text'
                ELSE 'other' END
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND a.attnum > 0 AND NOT a.attisdropped
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
    ORDER BY 1, 2, a.attnum
    """
)
_SQLITE_COLUMNS = text(
    r"""
    SELECT 'main', m.name, p.name, upper(p.type)
    FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
    ORDER BY m.name, p.cid
    """
)


@dataclass(frozen=True)
class TableColumns:
    schema: str
    name: str
    kinds: dict[str, str]
    """Each column's kind: "text", "json" or "other"."""


class SqlRemains:
    """One database, searched for one person at a time."""

    def __init__(
        self,
        database: Database,
        shown: str,
        project_columns: Collection[str],
        key_columns: Collection[str],
    ) -> None:
        self._database = database
        self._shown = shown
        self._project_columns = list(project_columns)
        self._key_columns = set(key_columns)

    def default_schema(self) -> str:
        with reported_as(self._shown), self._database.reader() as conn:
            return default_schema(conn)

    def tables(self) -> list[TableColumns]:
        """Every user table and its columns' kinds, jobtrail's own left out."""
        with reported_as(self._shown), self._database.reader() as conn:
            sqlite = conn.dialect.name == "sqlite"
            rows = conn.execute(_SQLITE_COLUMNS if sqlite else _POSTGRESQL_COLUMNS).all()
        found: dict[tuple[str, str], dict[str, str]] = {}
        for schema, name, column_name, kind in rows:
            kinds = found.setdefault((schema, name), {})
            kinds[column_name] = _sqlite_kind(kind) if sqlite else kind
        names_in: dict[str, set[str]] = {}
        for schema, name in found:
            names_in.setdefault(schema, set()).add(name)
        jobtrails = {schema for schema, names in names_in.items() if names >= _JOBTRAIL_MARKS}
        return [
            TableColumns(schema, name, kinds)
            for (schema, name), kinds in found.items()
            if not (schema in jobtrails and name in JOBTRAIL_TABLES)
        ]

    def search(
        self,
        project_id: int,
        names: list[str],
        session_ids: Collection[str],
        coverage: Coverage,
    ) -> Findings:
        """Each column that holds the person, with its count of rows."""
        findings = Findings(searched={"databases": 1, "columns": 0, "targetColumns": 0})
        sqlite = self._database.backend == "sqlite"
        for found in self.tables():
            read = self._searched_columns(found)
            mine = {n for n in read if coverage.interprets(found.schema, found.name, n)}
            findings.searched["targetColumns"] += len(mine)
            findings.searched["columns"] += len(read) - len(mine)
            through = coverage.through(found.schema, found.name)
            counts = self._table_counts(
                found, [n for n in read if n not in mine], project_id, names, session_ids, through
            )
            where = found.name if sqlite else f"{found.schema}.{found.name}"
            findings.places += [
                RemainsPlace(
                    self._shown,
                    f"{where}.{name}",
                    count,
                    "rows",
                    coverage.covered_by(found.schema, found.name, name),
                    any_project=self._project_column(found) is None and through is None,
                )
                for name, count in counts.items()
                if count
            ]
        return findings

    def _searched_columns(self, found: TableColumns) -> list[str]:
        """Its text-like columns and those named like a session key."""
        return [n for n, kind in found.kinds.items() if kind != "other" or n in self._key_columns]

    def _project_column(self, found: TableColumns) -> str | None:
        return next((c for c in self._project_columns if c in found.kinds), None)

    def _table_counts(
        self,
        found: TableColumns,
        read: list[str],
        project_id: int,
        names: list[str],
        session_ids: Collection[str],
        through: Through | None,
    ) -> dict[str, int]:
        texts = [n for n in read if found.kinds[n] != "other"]
        keys = [n for n in read if n in self._key_columns]
        relation = table(found.name, *(column(n) for n in found.kinds), schema=found.schema)
        project = self._project_column(found)
        in_project: Any = true()
        if project is not None:
            in_project = cast(relation.c[project], Text) == str(project_id)
        elif through is not None and through.column in found.kinds:
            sessions = table(
                through.table, column(through.key), column(through.project), schema=through.schema
            )
            in_project = ~exists().where(
                sessions.c[through.key] == relation.c[through.column],
                cast(sessions.c[through.project], Text) != str(project_id),
            )
        counts = dict.fromkeys([*texts, *keys], 0)
        with reported_as(f"{self._shown}: table {found.name}"), self._database.reader() as conn:
            if texts and names:
                counts.update(self._named(conn, relation, texts, found, in_project, names))
            for key in keys if session_ids else []:
                counts[key] += _keyed(
                    conn, relation, relation.c[key], in_project, sorted(session_ids)
                )
        return counts

    @staticmethod
    def _named(
        conn: Any,
        relation: Any,
        texts: list[str],
        found: TableColumns,
        in_project: Any,
        names: list[str],
    ) -> dict[str, int]:
        """Rows per column that name the person: candidates by a run of letters and
        digits of an id (every encoding keeps them), then the rule itself."""
        read = {name: cast(relation.c[name], Text) for name in texts}
        runs = sorted(
            {found_runs[0] if found_runs else "" for found_runs in map(ascii_runs, names)}
        )
        likes = [value.like(f"%{run}%") for value in read.values() for run in runs]
        holds = or_(*likes) if "" not in runs and len(likes) <= _MOST_LIKES else true()
        query = select(*(value.label(f"c{n}") for n, value in enumerate(read.values())))
        counts = dict.fromkeys(texts, 0)
        result = conn.execution_options(yield_per=500).execute(query.where(in_project, holds))
        for row in result:
            for n, name in enumerate(texts):
                value = row[n]
                if value is None:
                    continue
                person = json_names_person if found.kinds[name] == "json" else names_person
                if person(str(value), names):
                    counts[name] += 1
        return counts


def _keyed(conn: Any, relation: Any, key: Any, in_project: Any, ids: list[str]) -> int:
    total = 0
    for start in range(0, len(ids), _KEYS_PER_QUERY):
        chunk = ids[start : start + _KEYS_PER_QUERY]
        matches = exactly_in(cast(key, Text), chunk) if chunk else false()
        query = select(func.count()).select_from(relation).where(in_project, matches)
        total += int(conn.execute(query).scalar_one())
    return total


def _sqlite_kind(declared: str) -> str:
    """SQLite's type affinity for text (CHAR, CLOB, TEXT), JSON, or no type at all
    (a column that can hold anything holds text too)."""
    if "JSON" in declared:
        return "json"
    if not declared or any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    return "other"

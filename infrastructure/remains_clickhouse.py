"""A ClickHouse server searched for a person, column by column (``targets find``).

Every table that keeps its own data (the MergeTree family, Log, Memory; not views,
dictionaries or tables of other systems) in every database but the system's is
read, as system.columns lists it:
- columns whose type holds text (String, FixedString, LowCardinality(String),
  Nullable(String), Array(String), Map(String, …)), or is JSON, for rows that name
  the person as domain.scrubbing's rule finds them, each value read as text
  (``toString``);
- columns named like a session key, for the person's sessions' keys.
Rows are the project's where the table has a project column.

The person's sessions here (a clickhouse target of sessions) give their session
keys and anonymous ids, like SQL sessions do.
"""

from collections.abc import Collection
from typing import Any

from application.identities import Findings, Identities
from domain.remains import RemainsPlace
from domain.scrubbing import ascii_runs, json_names_person, names_person
from infrastructure.clickhouse_conditions import SCRATCH_PREFIX, Scratch, quoted
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_owner import whose_rows
from infrastructure.clickhouse_server import ClickHouseServer, reported_as
from infrastructure.clickhouse_tables import ClickHouseTable
from infrastructure.clickhouse_targets import ClickHouseIdentities
from infrastructure.remains_coverage import Coverage
from infrastructure.remains_sql import TableColumns

_COLUMNS = """
    SELECT c.database, c.table, c.name, c.type
    FROM system.columns AS c
    JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
    WHERE c.database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema')
      AND NOT t.is_temporary AND NOT startsWith(t.name, {scratch:String})
      AND (t.engine LIKE '%MergeTree' OR t.engine IN ('Log', 'TinyLog', 'StripeLog', 'Memory'))
    ORDER BY c.database, c.table, c.position
"""


def kind_of(column_type: str) -> str:
    if column_type.startswith(("JSON", "Object(")) or "(JSON" in column_type:
        return "json"
    return "text" if "String" in column_type else "other"


class ClickHouseRemains:
    """One ClickHouse server, searched for one person. The ids are never written in
    a statement (ClickHouse keeps statements' text): they go in scratch tables made
    beside ``home``, a target's table on the server (infrastructure.clickhouse_tables)."""

    def __init__(
        self,
        server: ClickHouseServer,
        home: ClickHouseTable,
        shown: str,
        project_columns: Collection[str],
        key_columns: Collection[str],
    ) -> None:
        self._server = server
        self._home = home
        self._shown = shown
        self._project_columns = list(project_columns)
        self._key_columns = set(key_columns)

    def tables(self) -> list[TableColumns]:
        found: dict[tuple[str, str], dict[str, str]] = {}
        for database, name, column_name, column_type in self._query(
            _COLUMNS, {"scratch": SCRATCH_PREFIX}
        ):
            found.setdefault((database, name), {})[column_name] = kind_of(column_type)
        return [TableColumns(database, name, kinds) for (database, name), kinds in found.items()]

    def search(
        self,
        project_id: int,
        names: list[str],
        session_ids: Collection[str],
        coverage: Coverage,
    ) -> Findings:
        findings = Findings(searched={"clickhouseServers": 1, "columns": 0, "targetColumns": 0})
        with Scratch(self._home) as scratch:
            runs = sorted({longest[0] if longest else "" for longest in map(ascii_runs, names)})
            needles = None if "" in runs else scratch.set_of(runs, "String")
            keys = scratch.set_of(sorted(session_ids), "String")
            for found in self.tables():
                read = [n for n, k in found.kinds.items() if k != "other" or n in self._key_columns]
                mine = {n for n in read if coverage.interprets(found.schema, found.name, n)}
                findings.searched["targetColumns"] += len(mine)
                findings.searched["columns"] += len(read) - len(mine)
                kinds = {n: kind for n, kind in found.kinds.items() if n not in mine}
                counts = self._table_counts(
                    TableColumns(found.schema, found.name, kinds),
                    project_id,
                    names,
                    needles,
                    keys,
                    session_ids,
                )
                findings.places += [
                    RemainsPlace(
                        self._shown,
                        f"{found.schema}.{found.name}.{name}",
                        count,
                        "rows",
                        coverage.covered_by(found.schema, found.name, name),
                        any_project=self._project_column(found) is None,
                    )
                    for name, count in counts.items()
                    if count
                ]
        return findings

    def _project_column(self, found: TableColumns) -> str | None:
        return next((c for c in self._project_columns if c in found.kinds), None)

    def _table_counts(
        self,
        found: TableColumns,
        project_id: int,
        names: list[str],
        needles: str | None,
        keys: str,
        session_ids: Collection[str],
    ) -> dict[str, int]:
        texts = [n for n, kind in found.kinds.items() if kind != "other"]
        key_columns = [n for n in found.kinds if n in self._key_columns]
        relation = f"{quoted(found.schema)}.{quoted(found.name)}"
        project = self._project_column(found)
        in_project = f"toString({quoted(project)}) = {{project:String}}" if project else "1"
        parameters = {"project": str(project_id)}
        counts = dict.fromkeys([*texts, *key_columns], 0)
        if texts and names:
            read = [f"toString({quoted(n)})" for n in texts]
            holds = (
                " OR ".join(
                    f"multiSearchAny({value}, (SELECT groupArray(v) FROM {needles}))"  # noqa: S608
                    for value in read
                )
                if needles
                else "1"
            )
            query = f"SELECT {', '.join(read)} FROM {relation} WHERE {in_project} AND ({holds})"  # noqa: S608 - names quoted, values in scratch tables
            for row in self._query(query, parameters):
                for n, name in enumerate(texts):
                    person = json_names_person if found.kinds[name] == "json" else names_person
                    if row[n] is not None and person(str(row[n]), names):
                        counts[name] += 1
        for key in key_columns if session_ids else []:
            query = (
                f"SELECT count() FROM {relation} WHERE {in_project} "  # noqa: S608 - as above
                f"AND toString({quoted(key)}) IN {keys}"
            )
            counts[key] += int(self._query(query, parameters)[0][0])
        return counts

    def _query(self, sql: str, parameters: dict[str, Any]) -> list[Any]:
        with reported_as(self._shown, self._shown):
            return list(self._server.client().query(sql, parameters=parameters).result_rows)


def clickhouse_session_identities(
    config: ClickHouseTargetConfig, table: ClickHouseTable, project_id: int, user_id: str
) -> Identities:
    """The keys of the person's sessions in a ClickHouse target of sessions (with
    ``follow_device``, of the device's anonymous sessions too: the rows a job would
    delete), and the anonymous ids they carry that are theirs (ClickHouseIdentities)."""
    assert config.user_id_column is not None  # a target of sessions
    whose = whose_rows(config, table, project_id, user_id)
    keys = table.distinct(config.session_column, config.project_id_column, project_id, whose.any)
    if config.anonymous_id_column is None:
        return Identities(user_id, session_ids=frozenset(map(str, keys)))
    column = config.anonymous_id_column
    carried = {
        str(one)
        for one in table.distinct(column, config.project_id_column, project_id, whose.owned)
        if one
    }
    theirs = set(ClickHouseIdentities(config, table).anonymous_ids(project_id, user_id))
    return Identities(
        user_id, frozenset(theirs), frozenset(map(str, keys)), frozenset(carried - theirs)
    )

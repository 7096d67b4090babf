"""What a database's own catalog says about the foreign keys that reference a table:
PostgreSQL's pg_constraint, SQLite's foreign_key_list pragma.

Not SQLAlchemy's inspector: it has no question for "who references this table"
(asking it would mean reflecting every table of every schema), and on SQLite it
loses the ON DELETE rule of a column's inline REFERENCES."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
"""pg_constraint.confdeltype, spelled as SQL (and as SQLite's pragma spells it)."""

_POSTGRESQL = text(
    """
    SELECT n.nspname::text, c.relname::text, con.confdeltype::text,
           ARRAY(SELECT a.attname::text
                 FROM unnest(con.conkey) WITH ORDINALITY AS k(num, i)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                 ORDER BY k.i),
           ARRAY(SELECT a.attname::text
                 FROM unnest(con.confkey) WITH ORDINALITY AS k(num, i)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                 ORDER BY k.i)
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE con.contype = 'f' AND con.conparentid = 0
      AND con.confrelid = to_regclass(CASE WHEN CAST(:schema AS text) IS NULL
                                           THEN quote_ident(:table)
                                           ELSE quote_ident(:schema) || '.' || quote_ident(:table)
                                      END)
    ORDER BY 1, 2, con.conname
    """
)


@dataclass(frozen=True)
class Reference:
    """A foreign key of ``schema.table`` (its ``columns``) onto the table asked about
    (its ``referred`` columns), and what the database does to its rows when the
    referred row is deleted."""

    schema: str
    table: str
    columns: tuple[str, ...]
    referred: tuple[str, ...]
    rule: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


def default_schema(conn: Any) -> str:
    """Where an unqualified table name is found."""
    if conn.dialect.name == "sqlite":
        return "main"
    return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def references_to(conn: Any, schema: str | None, table: str) -> list[Reference]:
    """Every foreign key onto the table, from any table (itself included)."""
    if conn.dialect.name == "sqlite":
        return _sqlite_references(conn, schema or "main", table)
    rows = conn.execute(_POSTGRESQL, {"schema": schema, "table": table})
    return [
        Reference(nsp, rel, tuple(cols), tuple(referred), RULES.get(rule, rule))
        for nsp, rel, rule, cols, referred in rows
    ]


def _sqlite_references(conn: Any, schema: str, table: str) -> list[Reference]:
    # Foreign keys never cross SQLite databases: only this schema's tables can refer.
    master = f'"{schema.replace(chr(34), chr(34) * 2)}".sqlite_master'
    rows = conn.execute(
        text(
            'SELECT m.name, f.id, f."from", f."to", f.on_delete '  # noqa: S608 - the schema quoted
            f"FROM {master} AS m JOIN pragma_foreign_key_list(m.name, :schema) AS f "
            "WHERE m.type = 'table' AND lower(f.\"table\") = lower(:table) "
            "ORDER BY m.name, f.id, f.seq"
        ),
        {"schema": schema, "table": table},
    ).all()
    keys: dict[tuple[str, int], tuple[list[str], list[str | None], str]] = {}
    for name, number, column, referred, rule in rows:
        columns, referred_columns, _ = keys.setdefault((name, number), ([], [], rule))
        columns.append(column)
        referred_columns.append(referred)
    primary: list[str] | None = None
    references = []
    for (name, _), (columns, referred_columns, rule) in keys.items():
        if None in referred_columns:  # REFERENCES t, without columns: t's primary key
            primary = primary or _primary_key(conn, schema, table)
            referred_columns = list(primary)
        references.append(
            Reference(schema, name, tuple(columns), tuple(map(str, referred_columns)), rule)
        )
    return references


def _primary_key(conn: Any, schema: str, table: str) -> list[str]:
    query = text("SELECT name FROM pragma_table_info(:table, :schema) WHERE pk > 0 ORDER BY pk")
    return [str(name) for name in conn.execute(query, {"schema": schema, "table": table}).scalars()]

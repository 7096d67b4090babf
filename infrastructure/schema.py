"""Creating every table jobtrail needs, once, however many processes start together."""

import secrets

from sqlalchemy import insert, inspect, select, text

from application.projection import JobsProjection
from infrastructure.database import Database
from infrastructure.event_store import open_job_log
from infrastructure.sessions import session_metadata
from infrastructure.tables import metadata, projection_positions, service_secrets

PROJECTIONS = (JobsProjection.name,)


def prepare_database(database: Database) -> None:
    with database.schema_lock():
        if database.url.schema:
            with database.writer() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.url.schema}"'))
        open_job_log(database.url, create_tables=True).close()
        metadata.create_all(database.engine)
        _add_missing_columns(database)
        session_metadata.create_all(database.engine)
        with database.writer() as conn:
            known = set(conn.execute(select(projection_positions.c.name)).scalars())
            for name in PROJECTIONS:
                if name not in known:
                    conn.execute(insert(projection_positions).values(name=name, position=0))
            if conn.execute(select(service_secrets.c.name)).first() is None:
                conn.execute(
                    insert(service_secrets).values(name="session", value=secrets.token_hex(32))
                )


def _add_missing_columns(database: Database) -> None:
    """Columns added to a table after it was first created: nullable, added in place."""
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspect(database.engine).get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present]
        if not missing:
            continue
        with database.writer() as conn:
            for column in missing:
                assert column.nullable, f"{table.name}.{column.name} must be nullable"
                kind = column.type.compile(dialect=database.engine.dialect)
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))


def session_secret(database: Database) -> str:
    with database.reader() as conn:
        value: str = conn.execute(
            select(service_secrets.c.value).where(service_secrets.c.name == "session")
        ).scalar_one()
    return value

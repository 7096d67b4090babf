"""Creating every table jobtrail needs, once, however many processes start together."""

import logging
import secrets

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from application.projection import JobsProjection
from infrastructure.append_function import create_append_function
from infrastructure.database import Database
from infrastructure.deadline_reads import fill_added_columns
from infrastructure.event_store import open_job_log
from infrastructure.personal_data import SEALED_FROM, SUBJECT_SECRET, new_subject_secret
from infrastructure.proof_tables import LOG_ORIGIN, new_log_origin
from infrastructure.sessions import session_metadata
from infrastructure.tables import (
    add_missing_columns,
    metadata,
    projection_positions,
    service_secrets,
)

PROJECTIONS = (JobsProjection.name,)
LOGIN_SECRET = "session"  # noqa: S105 - the name of the secret, not its value
"""The secret that signs dashboard logins' cookies: its row keeps the name it was
first stored under, so existing databases (and cookies signed with it) still work."""
log = logging.getLogger("jobtrail.schema")


def prepare_database(database: Database, pool_size: int = 1, max_overflow: int = 1) -> None:
    with database.schema_lock():
        if database.url.schema:
            with database.writer() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.url.schema}"'))
        log = open_job_log(
            database.url, create_tables=True, pool_size=pool_size, max_overflow=max_overflow
        )
        head = log.head()
        log.close()
        metadata.create_all(database.engine)
        if database.backend == "postgresql":
            with database.writer() as conn:
                function = create_append_function(database.url)
                conn.exec_driver_sql(function.as_string(conn.connection.driver_connection))
        with database.writer() as conn:  # SQLite: the write lock serialises starters
            for table in metadata.sorted_tables:
                fill_added_columns(conn, table, add_missing_columns(conn, table))
        session_metadata.create_all(database.engine)
        _unique_organization_names(database)
        with database.writer() as conn:
            known = set(conn.execute(select(projection_positions.c.name)).scalars())
            for name in PROJECTIONS:
                if name not in known:
                    conn.execute(insert(projection_positions).values(name=name, position=0))
            secrets_made = set(conn.execute(select(service_secrets.c.name)).scalars())
            if LOGIN_SECRET not in secrets_made:
                conn.execute(
                    insert(service_secrets).values(name=LOGIN_SECRET, value=secrets.token_hex(32))
                )
            if LOG_ORIGIN not in secrets_made:
                conn.execute(
                    insert(service_secrets).values(name=LOG_ORIGIN, value=new_log_origin())
                )
            if SUBJECT_SECRET not in secrets_made:
                # Events already in the log were written before personal data was
                # sealed: they stay as they are (ADR 18), and tools can say so.
                conn.execute(
                    insert(service_secrets),
                    [
                        {"name": SUBJECT_SECRET, "value": new_subject_secret()},
                        {"name": SEALED_FROM, "value": str(head + 1)},
                    ],
                )


def _unique_organization_names(database: Database) -> None:
    """Names are unique (two processes creating one name at once cannot both win).
    A database from before this rule may hold duplicates: it is left as it is."""
    try:
        with database.writer() as conn:
            conn.execute(
                text(
                    "CREATE UNIQUE INDEX IF NOT EXISTS organizations_by_name "
                    "ON organizations (name)"
                )
            )
    except IntegrityError:
        log.warning("organization names repeat in this database: their uniqueness is not enforced")


def login_secret(database: Database) -> str:
    """Signs the dashboard login's cookie."""
    with database.reader() as conn:
        value: str = conn.execute(
            select(service_secrets.c.value).where(service_secrets.c.name == LOGIN_SECRET)
        ).scalar_one()
    return value

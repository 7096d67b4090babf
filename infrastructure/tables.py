"""The read-model and tenancy tables (SQLAlchemy Core), beside the event store's own."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    String,
    Table,
    Text,
    inspect,
    text,
)

from domain.project_key import MAX_PROJECT_KEY_LENGTH

metadata = MetaData()


_JOB_ID = BigInteger().with_variant(Integer(), "sqlite")


def jobs_table(name: str, target: MetaData, suffix: str = "") -> Table:
    """The jobs read model's table. A rebuild creates a copy beside the live one,
    whose constraint and index names carry a suffix: after the swap renames the
    table, no name may collide with the next rebuild's."""
    return Table(
        name,
        target,
        # On SQLite an INTEGER primary key is the table's rowid: no second index to
        # keep up while rows go in, and a lookup by job id is one b-tree search.
        Column("job_id", _JOB_ID, autoincrement=False, nullable=False),
        Column("aggregate_id", String(36), nullable=False),
        Column("version", Integer, nullable=False),
        Column("project_id", Integer, nullable=False),
        Column("action", String(64), nullable=False),
        Column("reference_id", Text, nullable=False),
        Column("description", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("errors", Text, nullable=True),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("start_at", BigInteger, nullable=False),
        # Internal to the runner (not in the API): when the running job's lease ends.
        Column("lease_until", BigInteger, nullable=True),
        # The response deadline (domain.deadline), the API's dueBy. Nullable only as a
        # column added to older tables is; prepare_database fills those rows.
        Column("respond_by", BigInteger, nullable=True),
        # Why the log's record of this job cannot be read, if it cannot (the API then
        # answers that the job's record is damaged instead of showing a stale row).
        Column("damaged", Text, nullable=True),
        PrimaryKeyConstraint("job_id", name=f"jobs_pkey{suffix}"),
        Index(f"jobs_by_aggregate{suffix}", "aggregate_id", unique=True),
        Index(f"jobs_by_project{suffix}", "project_id", "job_id"),
        Index(f"jobs_by_project_status{suffix}", "project_id", "status", "job_id"),
        Index(f"jobs_by_status_start{suffix}", "status", "start_at"),
    )


jobs = jobs_table("jobs", metadata)

projection_positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    # live | stopped (on an event it cannot apply) | rebuilding
    Column("state", String(16), nullable=False, server_default="live"),
    Column("error", Text, nullable=True),
    # Which generation of the table holds the projection (a rebuild makes the next).
    Column("generation", Integer, nullable=False, server_default="0"),
    # A run of events past the position whose rows their writer wrote with them
    # (scheduling's batches appended while the projection was behind): the projection
    # steps over it when its position reaches the run's first event (ADR 31).
    Column("written_from", BigInteger, nullable=True),
    Column("written_to", BigInteger, nullable=True),
)

# A PostgreSQL sequence hands out job ids to many processes without a lock.
job_id_sequence = Sequence("job_ids", metadata=metadata, start=1)

# SQLite has no sequences: AUTOINCREMENT never reuses an id, even after a delete.
job_id_allocations = Table(
    "job_id_allocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    sqlite_autoincrement=True,
)

# The hash chain over the event log (see infrastructure.chain): one link per event,
# written in the transaction that appends the event.
event_chain = Table(
    "event_chain",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
)
Index(
    "one_default_organization",
    organizations.c.is_default,
    unique=True,
    postgresql_where=organizations.c.is_default,
    sqlite_where=organizations.c.is_default,
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("project_key", String(MAX_PROJECT_KEY_LENGTH), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("org_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Added after the first release: prepare_database adds them to older tables.
    Column("revoked_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
)

# Events of the log that cannot be decoded, met by the projection: it records them
# here and goes on, so one damaged event stops nobody else's jobs.
damaged_events = Table(
    "damaged_events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("aggregate_id", String(36), nullable=False, index=True),
    Column("detail", Text, nullable=False),
)

# Dashboard logins: the cookie names one, so signing out (or revoking the key)
# ends it on the server, whatever copies of the cookie exist. "Session" in this
# code means OpenReplay's recorded sessions; the table and its key column keep
# their first names (ui_sessions, session_id) because renaming them would need a
# migration of every existing database, so only the Python names say "login".
dashboard_logins = Table(
    "ui_sessions",
    metadata,
    Column("session_id", String(64), key="login_id", primary_key=True),
    Column("key_id", String(32), nullable=False, index=True),
    Column("org_id", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
)

# Secrets the service makes for itself, e.g. to sign dashboard logins' cookies; shared by
# every process on the database.
service_secrets = Table(
    "service_secrets",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(128), nullable=False),
)

# Data keys of subjects (the keyed hash of a project and a user), one per key
# generation: the only place a sealed personal field can be opened from. Outside
# the event log, so a row can be destroyed; destroying it forgets the user.
personal_data_keys = Table(
    "personal_data_keys",
    metadata,
    Column("subject", String(64), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("data_key", LargeBinary(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("subject", "generation", name="personal_data_keys_pkey"),
)


def add_missing_columns(conn: Connection, table: Table) -> list[str]:
    """Columns added to a table after it was first created (all nullable), added in
    place, inside the caller's transaction: on SQLite its write lock, on PostgreSQL
    the schema lock, keep two processes from adding the same column. Returns the
    names of those it added, so that their values can be filled in the same
    transaction."""
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    added = []
    for column in table.columns:
        if column.name in present:
            continue
        assert column.nullable, f"{table.name}.{column.name} must be nullable"
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
        added.append(column.name)
    return added

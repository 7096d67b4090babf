"""The embedded set-up's own session data: what a deletion job deletes by default."""

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

# A separate MetaData: this is user data that deletion jobs delete, not jobtrail's state.
session_metadata = MetaData()

sessions = Table(
    "sessions",
    session_metadata,
    Column("session_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("project_id", Integer, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("user_uuid", String(36), nullable=False),
    Column("user_agent", Text, nullable=False, default=""),
    Column("user_os", String(64), nullable=False, default=""),
    Column("user_browser", String(64), nullable=False, default=""),
    Column("user_device", String(64), nullable=False, default=""),
    Column("user_country", String(2), nullable=False, default=""),
    Column("start_ts", BigInteger, nullable=False),
    Column("duration", Integer, nullable=False),
    Column("events_count", Integer, nullable=False, default=0),
    Column("pages_count", Integer, nullable=False, default=0),
    Column("errors_count", Integer, nullable=False, default=0),
    Index("sessions_by_user", "project_id", "user_id", "start_ts"),
)

"""The person's identities that a SQL table of sessions still holds (``targets
find``): the keys of their sessions (with ``follow_device``, of the device's
anonymous sessions too: the rows a job would delete), and the anonymous ids their
sessions carry, theirs alone (infrastructure.person_identities' rule)."""

from sqlalchemy import select

from application.identities import Identities
from infrastructure.database import Database
from infrastructure.person_identities import PersonIdentities
from infrastructure.sql_errors import reported_as
from infrastructure.sql_owner import whose_rows
from infrastructure.sql_tables import key_column, reflected
from infrastructure.target_config import SqlTargetConfig


def sql_session_identities(
    config: SqlTargetConfig, database: Database, project_id: int, user_id: str
) -> Identities:
    with reported_as(f"{config.name}: table {config.table}"):
        table = reflected(config, database)
        key = key_column(config, table)
        owner = {"project_id": project_id, "user_id": user_id}
        with database.reader() as conn:
            keys = frozenset(
                str(value)
                for value in conn.execute(select(key).where(whose_rows(table, config).any), owner)
                .scalars()
                .all()
            )
            carried: set[str] = set()
            if config.anonymous_id_column is not None:
                anonymous = table.c[config.anonymous_id_column]
                query = select(anonymous).distinct().where(whose_rows(table, config).owned)
                carried = {str(value) for value in conn.execute(query, owner).scalars() if value}
        theirs = (
            set(PersonIdentities(config, database).anonymous_ids(project_id, user_id))
            if carried
            else set()
        )
    return Identities(user_id, frozenset(theirs), keys, frozenset(carried - theirs))

"""Who the person is in a project: their user id, and the anonymous ids their
sessions carry that no one else's do.

An anonymous id is a device's or a browser's (OpenReplay's ``user_anonymous_id``).
One that a session of ANOTHER user id in the project also carries is a shared
device's: it is not the person's, and nothing is deleted or scrubbed for it. Sessions
with no user id (NULL, or empty as some SDKs send it) do not make it shared (they are
the device's before anyone logged in): the rule ClickHouse's targets keep too. Nor
is one that is another user id of the project (user ``bob7``, and ``bob7`` the
person's anonymous id): a text or a value that says it may mean that user. Ids are
compared exactly (infrastructure.sql_exact): ``Alice`` is not ``alice``.
"""

from sqlalchemy import Table, and_, exists, select
from sqlalchemy.exc import NoSuchTableError

from domain.scrubbing import identities
from infrastructure.database import Database
from infrastructure.sql_errors import reported_as
from infrastructure.sql_exact import exactly
from infrastructure.sql_tables import reflected
from infrastructure.target_config import ConfigError, SqlTargetConfig


class PersonIdentities:
    def __init__(self, sessions: SqlTargetConfig | None, database: Database) -> None:
        """``sessions``: the sql target whose rows name the anonymous ids (None: the
        person is known by their user id alone)."""
        self._sessions = sessions
        self._database = database
        self._table: Table | None = None

    def check(self, target: str) -> None:
        if self._sessions is None:
            return
        try:
            table = self._resolved()
        except NoSuchTableError:
            raise ConfigError(
                f"Target {target}: the table of {self._sessions.name} does not exist."
            ) from None
        config = self._sessions
        for column in (config.user_id_column, config.project_id_column, config.anonymous_id_column):
            if column is None or column not in table.c:
                raise ConfigError(
                    f"Target {target}: table {config.table!r} of {config.name} has no "
                    f"column {column!r}."
                )

    def describe(self) -> str:
        if self._sessions is None:
            return "the user id"
        return f"the user id and the anonymous ids of {self._sessions.name}"

    def of(self, project_id: int, user_id: str) -> list[str]:
        """The user id first, then the person's own anonymous ids."""
        return identities(user_id, self.anonymous_ids(project_id, user_id))

    def anonymous_ids(self, project_id: int, user_id: str) -> list[str]:
        if self._sessions is None:
            return []
        config = self._sessions
        assert config.anonymous_id_column is not None  # checked with the configuration
        table = self._resolved()
        project = table.c[config.project_id_column]
        user = table.c[config.user_id_column]
        anonymous = table.c[config.anonymous_id_column]
        other = table.alias("other")
        shared = exists().where(
            and_(
                other.c[config.project_id_column] == project_id,
                exactly(other.c[config.anonymous_id_column], anonymous),
                other.c[config.user_id_column].is_not(None),
                ~exactly(other.c[config.user_id_column], ""),
                ~exactly(other.c[config.user_id_column], user_id),
            )
        )
        # Nor one that is another user's id in the project: a shared text or an untyped
        # value naming it may name that user.
        someones = exists().where(
            other.c[config.project_id_column] == project_id,
            exactly(other.c[config.user_id_column], anonymous),
        )
        query = (
            select(anonymous)
            .distinct()
            .where(
                project == project_id,
                exactly(user, user_id),
                anonymous.is_not(None),
                ~shared,
                ~someones,
            )
        )
        with reported_as(f"{config.name}: table {config.table}"), self._database.reader() as conn:
            return [str(value) for value in conn.execute(query).scalars()]

    def _resolved(self) -> Table:
        if self._table is None:
            assert self._sessions is not None
            self._table = reflected(self._sessions, self._database)
        return self._table

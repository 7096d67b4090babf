"""Whose rows a clickhouse target deletes: the user's in the project and, with
``follow_device``, the project's sessions without a user id recorded on one of
the user's devices (the rule of infrastructure.sql_owner, in ClickHouse).

A device another user id of the project also used is not followed: its
anonymous sessions could be that person's (a shared computer, a family tablet),
and a job deletes exactly one person's data. An empty user id is nobody's, as
NULL is; an empty device (``''``, a zero UUID: ClickHouse's defaults) is none."""

from dataclasses import dataclass

from infrastructure.clickhouse_conditions import NOBODY, Condition
from infrastructure.clickhouse_config import ClickHouseTargetConfig
from infrastructure.clickhouse_tables import ClickHouseTable


@dataclass(frozen=True)
class Whose:
    owned: Condition
    """The user's rows in the project."""
    linked: Condition
    """The anonymous sessions on the user's own devices (none if not followed)."""

    @property
    def any(self) -> Condition:
        return [*self.linked, *self.owned]


def whose_rows(
    config: ClickHouseTargetConfig, table: ClickHouseTable, project_id: int, user_id: str
) -> Whose:
    assert config.user_id_column is not None  # a target of the person's rows
    user = config.user_id_column
    owned = [[(user, [user_id])]]
    if not config.follow_device or config.device_column is None:
        return Whose(owned, [])
    # The devices of the user's sessions that no session of another user id carries.
    devices = table.exclusive(
        config.device_column, user, config.project_id_column, project_id, user_id
    )
    return Whose(owned, [[(user, NOBODY), (config.device_column, devices)]])

"""Whose rows a sql target deletes: the user's in the project and, with
``follow_device``, the project's sessions without a user id recorded on one of
the user's devices.

A device another user id of the project also used is not followed: its
anonymous sessions could be that person's (a shared computer, a family tablet),
and a job deletes exactly one person's data. An empty device (``''``, a zero UUID)
is none, as NULL is. Ids and devices are compared exactly (infrastructure.sql_exact):
``Alice`` is another user than ``alice``, whatever the column's collation."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Table, Uuid, bindparam, exists

from infrastructure.sql_exact import exactly
from infrastructure.target_config import SqlTargetConfig


@dataclass(frozen=True)
class Whose:
    owned: Any
    """The user's rows in the project (parameters project_id, user_id)."""
    linked: Any | None
    """The anonymous sessions on the user's own devices (same parameters), if followed."""

    @property
    def any(self) -> Any:
        return self.owned if self.linked is None else self.owned | self.linked


def whose_rows(table: Table, config: SqlTargetConfig) -> Whose:
    project = table.c[config.project_id_column]
    user = table.c[config.user_id_column]
    owned = (project == bindparam("project_id")) & exactly(user, bindparam("user_id"))
    if not config.follow_device or config.device_column is None:
        return Whose(owned, None)
    device = table.c[config.device_column]
    mine, others = table.alias("mine"), table.alias("others")

    def same_device(rows: Any) -> Any:
        return (rows.c[project.name] == project) & exactly(rows.c[device.name], device)

    on_the_users_device = exists().where(
        same_device(mine) & exactly(mine.c[user.name], bindparam("user_id"))
    )
    shared = exists().where(
        same_device(others)
        & others.c[user.name].is_not(None)
        & ~exactly(others.c[user.name], "")  # an empty user id is nobody's, as NULL is
        & ~exactly(others.c[user.name], bindparam("user_id"))
    )
    linked = (
        (project == bindparam("project_id"))
        & (user.is_(None) | exactly(user, ""))  # no user id, as for ``shared``
        & _some_device(device)
        & on_the_users_device
        & ~shared
    )
    return Whose(owned, linked)


def _some_device(device: Any) -> Any:
    """A device that is one: not NULL, nor empty (``''``, a zero UUID), which says no
    device, so every anonymous session without one would be followed (ClickHouse's
    rule too)."""
    if isinstance(device.type, String):
        return device.is_not(None) & (device != "")
    if isinstance(device.type, Uuid):
        return device.is_not(None) & (device != uuid.UUID(int=0))
    return device.is_not(None)

"""The child targets ``openreplay import`` writes: one for every table that refers to
OpenReplay's sessions, at any depth and whatever its ON DELETE, as the
installation's own catalog says (not a list that a new version would outgrow),
each named after its table, so that the receipt counts every table."""

from collections.abc import Sequence

from infrastructure.openreplay_source import SESSIONS, SessionTable
from infrastructure.target_config import SqlTargetConfig

SESSION_KEY = "session_id"


def session_children(
    database_url: str, sessions: str, tables: Sequence[SessionTable]
) -> list[SqlTargetConfig]:
    """``sessions``: the name of the target of public.sessions (key session_id).
    ``tables`` come parents first, as ``SqlOpenReplaySource.session_tables`` gives them."""
    names = {SESSIONS: sessions}  # a table's target, which its children name
    made: list[SqlTargetConfig] = []
    taken = {sessions}
    for table in tables:
        name = table.table
        if name in taken:  # a second foreign key of the same table
            name = f"{table.table} ({', '.join(table.columns)})"
        taken.add(name)
        by_key = table.parent == SESSIONS and table.referred == (SESSION_KEY,)
        made.append(
            SqlTargetConfig(
                name=name,
                url=database_url,
                table=table.table,
                sessions_from=names[table.parent],
                session_column=_one_or_many(table.columns),
                parent_column=None if by_key else _one_or_many(table.referred),
            )
        )
        names.setdefault(table.table, name)
    return made


def _one_or_many(columns: tuple[str, ...]) -> str | list[str]:
    return columns[0] if len(columns) == 1 else list(columns)

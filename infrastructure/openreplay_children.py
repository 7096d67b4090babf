"""The child targets ``openreplay import`` writes: one for every table that refers to
OpenReplay's sessions, at any depth and whatever its ON DELETE, as the
installation's own catalog says (not a list that a new version would outgrow),
each named after its table, so that the receipt counts every table.

A table is a child of every target of the table it refers to: a table of two keys
to the sessions (two targets) has its referring tables under each key, as its rows
are reached through either (``targets check`` asks the same)."""

from collections.abc import Sequence

from infrastructure.openreplay_source import SESSIONS, SessionTable
from infrastructure.target_config import SqlTargetConfig

SESSION_KEY = "session_id"


def session_children(
    database_url: str, sessions: str, tables: Sequence[SessionTable]
) -> list[SqlTargetConfig]:
    """``sessions``: the name of the target of public.sessions (key session_id).
    ``tables`` come parents first, as ``SqlOpenReplaySource.session_tables`` gives them."""
    made: list[SqlTargetConfig] = []
    taken = {sessions}
    named: set[SessionTable] = set()  # references with a target already
    # Each target to find children of: its table, its name, the references it is
    # reached through (a reference met again on its own path is a cycle: not followed).
    parents: list[tuple[str, str, tuple[SessionTable, ...]]] = [(SESSIONS, sessions, ())]
    while parents:
        parent, parent_name, path = parents.pop(0)
        for table in tables:
            if table.parent != parent or table in path:
                continue
            name = _name(table, parent_name, again=table in named, taken=taken)
            named.add(table)
            by_key = table.parent == SESSIONS and table.referred == (SESSION_KEY,)
            made.append(
                SqlTargetConfig(
                    name=name,
                    url=database_url,
                    table=table.table,
                    sessions_from=parent_name,
                    session_column=_one_or_many(table.columns),
                    parent_column=None if by_key else _one_or_many(table.referred),
                )
            )
            parents.append((table.table, name, (*path, table)))
    return made


def _name(table: SessionTable, parent: str, again: bool, taken: set[str]) -> str:
    """Its table's name; for a second foreign key of the table, with its columns; for
    the same key under another target of the table it refers to, with that target."""
    name = table.table
    if name in taken:
        name = f"{name} of {parent}" if again else f"{name} ({', '.join(table.columns)})"
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name} {number}", number + 1
    taken.add(unique)
    return unique


def _one_or_many(columns: tuple[str, ...]) -> str | list[str]:
    return columns[0] if len(columns) == 1 else list(columns)

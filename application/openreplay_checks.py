"""Checking an OpenReplay installation's rows before anything of them is written.

A source is whatever the operator points at: a live installation, a restored dump,
a copy edited by hand. Its constraints are not trusted: every row the import would
write is checked here, and each one that cannot be imported is named in one line
(its table, its id, the column, why). One refused row stops the whole import.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from application.tenants import SourceProject, SourceTenant, is_foreign_key
from domain.project_key import project_key_problem

TENANTS = "public.tenants"
PROJECTS = "public.projects"
_ID_COLUMN = {TENANTS: "tenant_id", PROJECTS: "project_id"}
MISSING = "it is missing (NULL)"
NAME_LENGTH = 200
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A row that cannot be imported, and why."""

    table: str
    row_id: int | None
    column: str
    why: str

    def __str__(self) -> str:
        shown = "NULL" if self.row_id is None else self.row_id
        return (
            f"{self.table} row {_ID_COLUMN[self.table]}={shown}, column {self.column}: {self.why}"
        )


def in_order(refusals: Iterable[Refusal]) -> list[Refusal]:
    """Tenants, then projects; by id (a missing id first); each line once."""
    unique = list(dict.fromkeys(refusals))
    return sorted(
        unique,
        key=lambda r: (r.table != TENANTS, r.row_id is not None, r.row_id or 0),
    )


def label(text: str | None, fallback: str) -> str:
    """A name as jobtrail shows it: printable, at most 200 characters. A name is a
    label, not an address: it is tidied, never refused."""
    shown = "".join(c if c.isprintable() else " " for c in text or "").strip()
    return shown[:NAME_LENGTH] or fallback


def check_source(tenants: list[SourceTenant], projects: list[SourceProject]) -> list[Refusal]:
    return in_order([*_check_tenants(tenants), *_check_projects(projects, tenants)])


def _check_tenants(tenants: list[SourceTenant]) -> Iterable[Refusal]:
    for tenant in tenants:
        if tenant.tenant_id is None:
            yield Refusal(TENANTS, None, "tenant_id", MISSING)
    yield from _repeated_ids(TENANTS, [t.tenant_id for t in tenants], "tenant", "")
    registrable = [t for t in tenants if t.api_key is not None and is_foreign_key(t.api_key)]
    yield from _shared(
        TENANTS,
        registrable,
        "api_key",
        value=lambda t: t.api_key,
        row_id=lambda t: t.tenant_id,
        why="tenant_id {others} has the same API key (a key names one organization)",
    )


def _check_projects(
    projects: list[SourceProject], tenants: list[SourceTenant]
) -> Iterable[Refusal]:
    tenant_ids = {t.tenant_id for t in tenants}
    for project in projects:
        if project.project_id is None:
            yield Refusal(PROJECTS, None, "project_id", MISSING)
        problem = project_key_problem(project.project_key)
        if problem is not None:
            yield Refusal(PROJECTS, project.project_id, "project_key", problem)
        if project.tenant_id is None:
            yield Refusal(PROJECTS, project.project_id, "tenant_id", MISSING)
        elif project.tenant_id not in tenant_ids:
            yield Refusal(
                PROJECTS,
                project.project_id,
                "tenant_id",
                f"there is no tenant {project.tenant_id} in {TENANTS}",
            )
    yield from _repeated_ids(PROJECTS, [p.project_id for p in projects], "project", "live ")
    yield from _shared(
        PROJECTS,
        [p for p in projects if project_key_problem(p.project_key) is None],
        "project_key",
        value=lambda p: p.project_key,
        row_id=lambda p: p.project_id,
        why="live project_id {others} has the same key (a key names one project)",
    )


def _repeated_ids(table: str, ids: list[int | None], what: str, kind: str) -> Iterable[Refusal]:
    for row_id, count in Counter(i for i in ids if i is not None).items():
        if count > 1:
            yield Refusal(
                table,
                row_id,
                _ID_COLUMN[table],
                f"{count} {kind}rows have this id (an id names one {what})",
            )


def _shared(
    table: str,
    rows: list[Row],
    column: str,
    value: Callable[[Row], Hashable],
    row_id: Callable[[Row], int | None],
    why: str,
) -> Iterable[Refusal]:
    """Each row whose value another row has too, naming the others."""
    holders: dict[Hashable, list[int | None]] = defaultdict(list)
    for row in rows:
        holders[value(row)].append(row_id(row))
    for ids in holders.values():
        if len(ids) < 2:
            continue
        for index, this in enumerate(ids):
            others = ", ".join(
                "NULL" if other is None else str(other) for i, other in enumerate(ids) if i != index
            )
            yield Refusal(table, this, column, why.format(others=others))

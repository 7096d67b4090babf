"""Importing an OpenReplay installation: its tenants, keys and projects, as they are.

Existing scripts keep working: each tenant becomes an organization that accepts the
tenant's own API key (stored hashed, like every key), and each live project keeps
its ``project_id`` and ``project_key``, so job JSON says the same ``projectId`` and
URLs stay the same.

All or nothing: the source is checked whole first (application.openreplay_checks),
then everything is written in one transaction, which is rolled back if any row
meets a conflict with what jobtrail holds. Every refused row is named. Running it
again adds what is new; a row is "already here" only if it is the same row.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from application.openreplay_checks import (
    PROJECTS,
    TENANTS,
    Refusal,
    check_source,
    in_order,
    label,
)
from application.ports import OpenReplaySource, TenancyImport, TenancyStore
from application.tenancy import DASHBOARD_LOGIN_MS
from application.tenants import (
    FIRST_START_PROJECT,
    Organization,
    Project,
    SourceProject,
    SourceTenant,
    StoredKey,
    foreign_key_id,
    is_foreign_key,
    is_foreign_key_id,
    sha256_hex,
)

IN_USE_WINDOW_MS = 120_000
"""How recently a use of jobtrail's own project keeps the import from moving it. A
running server remembers a project by its key for seconds, and notes a key's use at
most once a minute: two minutes without a noted use means no server remembers it."""


class ImportRefused(Exception):
    """Rows that cannot be imported: nothing was written."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = in_order(refusals)
        super().__init__(f"{len(self.refusals)} rows refused")


@dataclass
class ImportReport:
    organizations_added: int = 0
    organizations_kept: int = 0
    keys_added: int = 0
    keys_kept: int = 0
    keys_revoked: int = 0
    """The tenant's keys imported before that are not its key any more."""
    projects_added: int = 0
    projects_kept: int = 0
    skipped: list[str] = field(default_factory=list)
    """What was left out, and why (a tenant key jobtrail cannot accept, say)."""
    moved: list[str] = field(default_factory=list)
    """jobtrail's own projects given a new id, so the installation's keep theirs."""

    @property
    def changed(self) -> bool:
        return bool(
            self.organizations_added or self.keys_added or self.keys_revoked or self.projects_added
        )


def organization_name(tenant: SourceTenant) -> str:
    return f"OpenReplay tenant {tenant.tenant_id} ({label(tenant.name, '')})"[:200]


def import_openreplay(
    source: OpenReplaySource,
    store: TenancyStore,
    has_jobs: Callable[[int], bool],
    now_ms: int,
) -> ImportReport:
    """``has_jobs(project_id)``: whether the log holds a job of that jobtrail project
    (asked only of jobtrail's own project that holds an id the installation needs)."""
    tenants, projects = source.tenants(), source.live_projects()
    refusals = check_source(tenants, projects)
    if refusals:
        raise ImportRefused(refusals)
    report = ImportReport()
    with store.importing() as tx:  # an exception leaves the database as it was
        writing = _Writing(tx, report, has_jobs, now_ms)
        orgs = {t.tenant_id: writing.organization(t) for t in tenants}
        for tenant in tenants:
            writing.key(tenant, orgs[tenant.tenant_id])
        writing.projects(projects, orgs)
        if writing.refusals:
            raise ImportRefused(writing.refusals)
    return report


class _Writing:
    def __init__(
        self,
        tx: TenancyImport,
        report: ImportReport,
        has_jobs: Callable[[int], bool],
        now_ms: int,
    ) -> None:
        self._tx = tx
        self._report = report
        self._has_jobs = has_jobs
        self._now_ms = now_ms
        self.refusals: list[Refusal] = []

    def organization(self, tenant: SourceTenant) -> Organization:
        name = organization_name(tenant)
        existing = self._tx.organization_named(name)
        if existing is not None:
            self._report.organizations_kept += 1
            return existing
        self._report.organizations_added += 1
        return self._tx.add_organization(name)

    def key(self, tenant: SourceTenant, org: Organization) -> None:
        accepted = self._tenant_key(tenant, org)
        self._revoke_former_keys(org, accepted)

    def _revoke_former_keys(self, org: Organization, accepted: str | None) -> None:
        """The tenant's keys imported before that are not its key now: the installation
        refuses them (a tenant's key is regenerated when it leaks), so jobtrail does
        too. Only imported keys: those jobtrail issued for the organization stay."""
        for key in self._tx.keys_of(org.id):
            if key.key_id == accepted or not is_foreign_key_id(key.key_id):
                continue
            if key.usable(self._now_ms):
                self._tx.revoke_key(key.key_id, self._now_ms)
                self._report.keys_revoked += 1

    def _tenant_key(self, tenant: SourceTenant, org: Organization) -> str | None:
        """The id of the tenant's key, added if it is new; None if it cannot be one."""
        if tenant.api_key is None or not is_foreign_key(tenant.api_key):
            self._report.skipped.append(
                f"{TENANTS} row tenant_id={tenant.tenant_id}, column api_key: not 16 to 256 "
                f"printable characters; `jobtrail keys create --org {org.id}` makes one"
            )
            return None
        key_id = foreign_key_id(tenant.api_key)
        existing = self._tx.key(key_id)
        if existing is None:
            self._tx.add_key(StoredKey(key_id, org.id, sha256_hex(tenant.api_key)))
            self._report.keys_added += 1
        elif existing.org_id == org.id:
            self._report.keys_kept += 1
        else:
            self._refuse(
                TENANTS,
                tenant.tenant_id,
                "api_key",
                f"the key is already a key of another organization here ({existing.org_id})",
            )
        return key_id

    def projects(self, projects: list[SourceProject], orgs: dict[int | None, Organization]) -> None:
        """Decides for every project first; then moves what must move, and adds."""
        new: list[Project] = []
        moves: list[Project] = []
        for source in projects:
            assert source.project_id is not None and source.project_key is not None
            wanted = Project(
                source.project_id,
                orgs[source.tenant_id].id,
                label(source.name, f"project {source.project_id}"),
                source.project_key,
            )
            if self._place(wanted, moves):
                new.append(wanted)
        if self.refusals:
            return
        next_id = max([self._tx.highest_project_id(), *(p.id for p in new)]) + 1
        for own in moves:
            self._tx.move_project(own.id, next_id)
            self._report.moved.append(
                f"jobtrail's own project {own.name!r} (key {own.project_key}, no jobs) "
                f"from id {own.id} to id {next_id}: OpenReplay's project {own.id} keeps its id."
            )
            next_id += 1
        for project in new:
            self._tx.add_project(project)
        self._report.projects_added += len(new)

    def _place(self, wanted: Project, moves: list[Project]) -> bool:
        """True if the project is to be added. A project here already with the same
        id, key and organization is counted; what stands in its way is refused, or
        (jobtrail's own unused first project) noted in ``moves``."""
        by_id = self._tx.project(wanted.id)
        by_key = self._tx.project_by_key(wanted.project_key)
        if by_id is not None and (by_id.project_key, by_id.org_id) == (
            wanted.project_key,
            wanted.org_id,
        ):
            self._report.projects_kept += 1
            return False
        refused_before = len(self.refusals)
        if by_key is not None and by_key.id != wanted.id:
            self._refuse_project(wanted, "project_key", _key_taken(by_key, wanted))
        if by_id is not None:
            taken = self._id_taken(by_id, wanted, moves)
            if taken is not None:
                self._refuse_project(wanted, *taken)
        return len(self.refusals) == refused_before

    def _id_taken(
        self, by_id: Project, wanted: Project, moves: list[Project]
    ) -> tuple[str, str] | None:
        """(the column, why) if jobtrail's project with the id stands in the way."""
        if by_id.project_key == wanted.project_key:
            return "tenant_id", (
                f"jobtrail's project_id {by_id.id} has this key in another organization "
                f"({by_id.org_id}), not this tenant's"
            )
        if by_id.org_id == wanted.org_id:
            return "project_key", (
                f"jobtrail's project_id {by_id.id} has another key (imported before: "
                "the installation changed it?)"
            )
        if self._is_first_start_project(by_id):
            why = self._why_it_cannot_move(by_id)
            if why is None:
                moves.append(by_id)
                return None
            return "project_id", why
        return "project_id", (
            f"the id is jobtrail project {by_id.name!r}'s (key {by_id.project_key}), "
            f"of another organization here ({by_id.org_id})"
        )

    def _is_first_start_project(self, project: Project) -> bool:
        default = self._tx.default_organization()
        return (
            default is not None
            and project.org_id == default.id
            and project.name == FIRST_START_PROJECT
        )

    def _why_it_cannot_move(self, own: Project) -> str | None:
        """None if jobtrail's own project may take another id: no job names it (a
        job's records keep its project id for good), and nothing is using it."""
        holds = f"jobtrail's own project {own.name!r} (key {own.project_key}) holds this id"
        if self._has_jobs(own.id):
            return (
                f"{holds} and has jobs, whose records name it for good: "
                "import into a new jobtrail database"
            )
        if self._tx.in_use(
            own.org_id,
            keys_used_since=self._now_ms - IN_USE_WINDOW_MS,
            signed_in_since=self._now_ms - DASHBOARD_LOGIN_MS,
        ):
            return (
                f"{holds} and is in use (its key was used in the last 2 minutes, or its "
                "dashboard is signed in): stop that, sign out, and import again in 2 minutes"
            )
        return None

    def _refuse_project(self, project: Project, column: str, why: str) -> None:
        self._refuse(PROJECTS, project.id, column, why)

    def _refuse(self, table: str, row_id: int | None, column: str, why: str) -> None:
        self.refusals.append(Refusal(table, row_id, column, why))


def _key_taken(by_key: Project, wanted: Project) -> str:
    if by_key.org_id != wanted.org_id:
        return (
            f"the key is jobtrail project_id {by_key.id}'s, of another organization "
            f"here ({by_key.org_id})"
        )
    return (
        f"the key is jobtrail project_id {by_key.id}'s (imported before under another id: "
        "the installation changed it?)"
    )

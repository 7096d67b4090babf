"""Importing an OpenReplay installation: its tenants, keys and projects, as they are.

Existing scripts keep working: each tenant becomes an organization that accepts the
tenant's own API key (stored hashed, like every key), and each live project keeps
its ``project_id`` and ``project_key``, so job JSON says the same ``projectId`` and
URLs stay the same. Running it again adds what is new and changes nothing else.
"""

from dataclasses import dataclass, field

from application.credentials import foreign_key_id, is_foreign_key, sha256_hex
from application.ports import OpenReplaySource, TenancyStore
from application.tenants import Organization, Project, SourceProject, SourceTenant, StoredKey


class ImportConflict(Exception):
    """Something jobtrail holds already disagrees with the installation: nothing of
    it was changed, and the import says what."""


@dataclass
class ImportReport:
    organizations_added: int = 0
    organizations_kept: int = 0
    keys_added: int = 0
    keys_kept: int = 0
    projects_added: int = 0
    projects_kept: int = 0
    skipped: list[str] = field(default_factory=list)
    """What could not be imported, and why (a key jobtrail cannot accept, say)."""

    @property
    def changed(self) -> bool:
        return bool(self.organizations_added or self.keys_added or self.projects_added)


def organization_name(tenant: SourceTenant) -> str:
    return f"OpenReplay tenant {tenant.tenant_id} ({tenant.name})"[:200]


def import_openreplay(source: OpenReplaySource, store: TenancyStore) -> ImportReport:
    report = ImportReport()
    projects = source.live_projects()
    _check_no_conflicts(projects, store)
    organizations: dict[int, Organization] = {}
    for tenant in source.tenants():
        organizations[tenant.tenant_id] = _organization(tenant, store, report)
        _key(tenant, organizations[tenant.tenant_id], store, report)
    for project in projects:
        org = organizations.get(project.tenant_id)
        if org is None:
            report.skipped.append(f"project {project.project_id}: its tenant does not exist")
            continue
        if store.project(project.project_id) is not None:
            report.projects_kept += 1
            continue
        store.import_project(
            Project(
                project.project_id,
                org.id,
                project.name or f"project {project.project_id}",
                project.project_key,
            )
        )
        report.projects_added += 1
    return report


def _check_no_conflicts(projects: list[SourceProject], store: TenancyStore) -> None:
    """Every project id and key is free, or already this very project: checked for
    all of them before anything is written."""
    for project in projects:
        by_id = store.project(project.project_id)
        by_key = store.project_by_key(project.project_key)
        if by_id is not None and by_id.project_key != project.project_key:
            raise ImportConflict(
                f"Project id {project.project_id} is taken here by project "
                f"{by_id.project_key} ({by_id.name}); nothing was imported."
            )
        if by_key is not None and by_key.id != project.project_id:
            raise ImportConflict(
                f"Project key {project.project_key} is taken here by project id "
                f"{by_key.id}; nothing was imported."
            )


def _organization(tenant: SourceTenant, store: TenancyStore, report: ImportReport) -> Organization:
    name = organization_name(tenant)
    for org in store.organizations():
        if org.name == name:
            report.organizations_kept += 1
            return org
    report.organizations_added += 1
    return store.add_organization(name, is_default=False)


def _key(
    tenant: SourceTenant, org: Organization, store: TenancyStore, report: ImportReport
) -> None:
    if not is_foreign_key(tenant.api_key):
        report.skipped.append(
            f"tenant {tenant.tenant_id}: its API key is not 16 to 256 printable characters"
        )
        return
    key_id = foreign_key_id(tenant.api_key)
    existing = store.key(key_id)
    if existing is not None:
        if existing.org_id != org.id:
            report.skipped.append(
                f"tenant {tenant.tenant_id}: its API key belongs to another organization"
            )
        else:
            report.keys_kept += 1
        return
    store.add_key(StoredKey(key_id, org.id, sha256_hex(tenant.api_key)))
    report.keys_added += 1

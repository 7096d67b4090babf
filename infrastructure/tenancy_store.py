"""Organizations, projects and API keys in plain transactional tables."""

from contextlib import AbstractContextManager

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.exc import IntegrityError

from application.epoch import epoch_ms
from application.tenants import InvalidName, KeyRecord, Organization, Principal, Project, StoredKey
from infrastructure.clock import SystemClock
from infrastructure.database import Database
from infrastructure.tables import api_keys, dashboard_logins, organizations, projects
from infrastructure.tenancy_import import (
    KEYS,
    ORGANIZATIONS,
    PROJECTS,
    SqlTenancyImport,
    import_transaction,
    key_ended,
    logins_ended,
    new_id,
)

# What every request reads, built once (the API's reader runs them too).
PROJECT_BY_KEY = PROJECTS.where(projects.c.project_key == bindparam("project_key"))
PROJECTS_OF = PROJECTS.where(projects.c.org_id == bindparam("org_id")).order_by(projects.c.id)
KEY = KEYS.where(api_keys.c.key_id == bindparam("key_id"))
OPEN_DASHBOARD_LOGIN = select(dashboard_logins.c.key_id, dashboard_logins.c.org_id).where(
    dashboard_logins.c.login_id == bindparam("login_id"), dashboard_logins.c.ended_at.is_(None)
)


class SqlTenancyStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._clock = SystemClock()

    def _now(self) -> int:
        return epoch_ms(self._clock.now())

    def add_organization(self, name: str, is_default: bool) -> Organization:
        try:
            with self._db.writer() as conn:
                return SqlTenancyImport(conn).add_organization(name, is_default)
        except IntegrityError:
            if not is_default:
                raise InvalidName(f"An organization named {name!r} exists already.") from None
            # Another process created the default organization first: use that one.
            existing = self.default_organization()
            if existing is None:
                raise
            return existing

    def default_organization(self) -> Organization | None:
        with self._db.reader() as conn:
            return SqlTenancyImport(conn).default_organization()

    def organization(self, org_id: int) -> Organization | None:
        with self._db.reader() as conn:
            return SqlTenancyImport(conn).organization(org_id)

    def organizations(self) -> list[Organization]:
        query = ORGANIZATIONS.order_by(organizations.c.id)
        with self._db.reader() as conn:
            return [Organization(*row) for row in conn.execute(query)]

    def projects(self, org_id: int | None) -> list[Project]:
        query = PROJECTS
        if org_id is not None:
            query = query.where(projects.c.org_id == org_id)
        with self._db.reader() as conn:
            return [Project(*row) for row in conn.execute(query.order_by(projects.c.id))]

    def add_project(self, org_id: int, name: str, project_key: str) -> Project:
        with self._db.writer() as conn:
            result = conn.execute(
                projects.insert().values(
                    org_id=org_id, name=name, project_key=project_key, created_at=self._now()
                )
            )
            return Project(new_id(result), org_id, name, project_key)

    def importing(self) -> AbstractContextManager[SqlTenancyImport]:
        return import_transaction(self._db)

    def project(self, project_id: int) -> Project | None:
        with self._db.reader() as conn:
            return SqlTenancyImport(conn).project(project_id)

    def project_by_key(self, project_key: str) -> Project | None:
        row = self._db.fetch_one(PROJECT_BY_KEY, {"project_key": project_key})
        return None if row is None else Project(*row)

    def first_project(self) -> Project | None:
        with self._db.reader() as conn:
            return SqlTenancyImport(conn).first_project()

    def add_key(self, key: StoredKey) -> None:
        with self._db.writer() as conn:
            SqlTenancyImport(conn).add_key(key)

    def key(self, key_id: str) -> StoredKey | None:
        row = self._db.fetch_one(KEY, {"key_id": key_id})
        return None if row is None else StoredKey(*row)

    def list_keys(self, org_id: int | None) -> list[KeyRecord]:
        columns = api_keys.c
        query = select(
            columns.key_id,
            columns.org_id,
            columns.created_at,
            columns.last_used_at,
            columns.revoked_at,
            columns.expires_at,
        ).order_by(columns.id)
        if org_id is not None:
            query = query.where(columns.org_id == org_id)
        with self._db.reader() as conn:
            return [KeyRecord(*row) for row in conn.execute(query)]

    def end_key(self, key_id: str, revoked_at: int | None, expires_at: int | None) -> bool:
        with self._db.writer() as conn:
            return bool(conn.execute(key_ended(key_id, revoked_at, expires_at)).rowcount)

    def touch_key(self, key_id: str, at: int) -> None:
        with self._db.writer(durable=False) as conn:
            conn.execute(
                update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=at)
            )

    def add_dashboard_login(self, login_id: str, principal: Principal, at: int) -> None:
        with self._db.writer() as conn:
            conn.execute(
                dashboard_logins.insert().values(
                    login_id=login_id,
                    key_id=principal.key_id,
                    org_id=principal.org_id,
                    created_at=at,
                )
            )

    def purge_dashboard_logins(self, older_than: int) -> None:
        columns = dashboard_logins.c
        with self._db.writer(durable=False) as conn:
            conn.execute(
                dashboard_logins.delete().where(
                    (columns.created_at < older_than) | columns.ended_at.is_not(None)
                )
            )

    def end_dashboard_logins(self, at: int, login_id: str | None, key_id: str | None) -> None:
        with self._db.writer() as conn:
            conn.execute(logins_ended(at, login_id, key_id))

    def is_empty(self) -> bool:
        with self._db.reader() as conn:
            has_key = conn.execute(select(exists().where(api_keys.c.id.is_not(None)))).scalar()
            has_project = conn.execute(select(exists().where(projects.c.id.is_not(None)))).scalar()
        return not has_key and not has_project

"""The tenancy tables inside one import's transaction: what it reads, it reads on the
connection that writes, and nothing it wrote stays if the transaction is rolled back."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Select,
    Update,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from application.epoch import epoch_ms
from application.tenants import Organization, Project, StoredKey, TenancyChanged
from infrastructure.clock import SystemClock
from infrastructure.database import Database
from infrastructure.tables import api_keys, dashboard_logins, organizations, projects

PROJECTS = select(projects.c.id, projects.c.org_id, projects.c.name, projects.c.project_key)
ORGANIZATIONS = select(organizations.c.id, organizations.c.name)
KEYS = select(
    api_keys.c.key_id,
    api_keys.c.org_id,
    api_keys.c.secret_sha256,
    api_keys.c.revoked_at,
    api_keys.c.expires_at,
)


def key_ended(key_id: str, revoked_at: int | None, expires_at: int | None) -> Update:
    """The statement that revokes the key, or sets when it expires (epoch ms), or both:
    the store's (infrastructure.tenancy_store), and an import's in its transaction."""
    values = {"revoked_at": revoked_at} if revoked_at is not None else {}
    values |= {"expires_at": expires_at} if expires_at is not None else {}
    return update(api_keys).where(api_keys.c.key_id == key_id).values(**values)


def logins_ended(at: int, login_id: str | None = None, key_id: str | None = None) -> Update:
    """The statement that ends the open dashboard logins: one, or those of one key."""
    columns = dashboard_logins.c
    statement = update(dashboard_logins).where(columns.ended_at.is_(None))
    if login_id is not None:
        statement = statement.where(columns.login_id == login_id)
    if key_id is not None:
        statement = statement.where(columns.key_id == key_id)
    return statement.values(ended_at=at)


@contextmanager
def import_transaction(database: Database) -> Iterator["SqlTenancyImport"]:
    """A write transaction on the tenancy tables, that nobody else writes while it is
    open. On SQLite the writer holds the database's write lock from BEGIN; on
    PostgreSQL the three tables are locked against other writers (readers, such as
    a running server's requests, go on). Committed when the block ends; rolled back,
    entirely, if it raises."""
    try:
        with database.writer() as conn:
            if database.backend == "postgresql":
                conn.execute(
                    text("LOCK TABLE organizations, api_keys, projects IN SHARE ROW EXCLUSIVE MODE")
                )
            yield SqlTenancyImport(conn)
            if database.backend == "postgresql":
                # Imported ids were given, not drawn: the sequence must start above
                # them, so that projects created later never collide with one. (On
                # SQLite an integer primary key always takes the next id above all.)
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('projects', 'id'), "
                        "(SELECT max(id) FROM projects))"
                    )
                )
    except IntegrityError:
        # Only a writer that ignores the lock can get here (an older jobtrail).
        raise TenancyChanged(
            "Another process changed jobtrail's organizations, keys or projects during "
            "the import: nothing was imported; run it again."
        ) from None


class SqlTenancyImport:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._now = epoch_ms(SystemClock().now())

    def default_organization(self) -> Organization | None:
        return self._organization(ORGANIZATIONS.where(organizations.c.is_default.is_(True)))

    def organization(self, org_id: int) -> Organization | None:
        return self._organization(ORGANIZATIONS.where(organizations.c.id == org_id))

    def organization_named(self, name: str) -> Organization | None:
        return self._organization(ORGANIZATIONS.where(organizations.c.name == name))

    def add_organization(self, name: str, is_default: bool = False) -> Organization:
        result = self._conn.execute(
            organizations.insert().values(name=name, is_default=is_default, created_at=self._now)
        )
        return Organization(new_id(result), name)

    def key(self, key_id: str) -> StoredKey | None:
        row = self._conn.execute(KEYS.where(api_keys.c.key_id == key_id)).first()
        return None if row is None else StoredKey(*row)

    def add_key(self, key: StoredKey) -> None:
        self._conn.execute(
            api_keys.insert().values(
                key_id=key.key_id,
                org_id=key.org_id,
                secret_sha256=key.secret_sha256,
                created_at=self._now,
            )
        )

    def keys_of(self, org_id: int) -> list[StoredKey]:
        return [
            StoredKey(*row) for row in self._conn.execute(KEYS.where(api_keys.c.org_id == org_id))
        ]

    def revoke_key(self, key_id: str, at: int) -> None:
        self._conn.execute(key_ended(key_id, revoked_at=at, expires_at=None))
        self._conn.execute(logins_ended(at, key_id=key_id))

    def project(self, project_id: int) -> Project | None:
        return self._project(PROJECTS.where(projects.c.id == project_id))

    def project_by_key(self, project_key: str) -> Project | None:
        return self._project(PROJECTS.where(projects.c.project_key == project_key))

    def first_project(self) -> Project | None:
        return self._project(PROJECTS.order_by(projects.c.id).limit(1))

    def highest_project_id(self) -> int:
        highest = self._conn.execute(select(func.max(projects.c.id))).scalar()
        return 0 if highest is None else int(highest)

    def add_project(self, project: Project) -> None:
        self._conn.execute(
            projects.insert().values(
                id=project.id,
                org_id=project.org_id,
                name=project.name,
                project_key=project.project_key,
                created_at=self._now,
            )
        )

    def move_project(self, project_id: int, new_id: int) -> None:
        self._conn.execute(update(projects).where(projects.c.id == project_id).values(id=new_id))

    def in_use(self, org_id: int, keys_used_since: int, signed_in_since: int) -> bool:
        key_used = exists().where(
            api_keys.c.org_id == org_id, api_keys.c.last_used_at >= keys_used_since
        )
        signed_in = exists().where(
            dashboard_logins.c.org_id == org_id,
            dashboard_logins.c.ended_at.is_(None),
            dashboard_logins.c.created_at >= signed_in_since,
        )
        return bool(self._conn.execute(select(key_used | signed_in)).scalar())

    def _organization(self, query: Select[Any]) -> Organization | None:
        row = self._conn.execute(query).first()
        return None if row is None else Organization(*row)

    def _project(self, query: Select[Any]) -> Project | None:
        row = self._conn.execute(query).first()
        return None if row is None else Project(*row)


def new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])

"""Organizations, their projects and their API keys, and dashboard logins: the use
cases (the values, and what a key looks like, are in application/tenants.py).

A key is shown once, when it is issued; only a SHA-256 of its secret is stored.
"""

import hmac
import secrets
import time
from collections.abc import Callable

from application.ports import Credentials, TenancyStore
from application.tenants import (
    KEY_PREFIX,
    InvalidName,
    IssuedKey,
    KeyNotFound,
    KeyRecord,
    Organization,
    OrganizationNotFound,
    OrganizationRequired,
    Principal,
    Project,
    StoredKey,
    is_token,
    parse_authorization,
    random_token,
    sha256_hex,
)
from domain.project_key import is_project_key

PROJECT_KEY_LENGTH = 20


def _name(name: str, what: str) -> str:
    name = name.strip()
    if not name or not name.isprintable() or len(name) > 200:
        raise InvalidName(f"{what} needs a name: 1 to 200 printable characters.")
    return name


DASHBOARD_LOGIN_MS = 8 * 3600 * 1000
"""How long a dashboard login lasts (the cookie's signature expires with it)."""


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Tenancy:
    def __init__(
        self,
        store: TenancyStore,
        credentials: Credentials,
        now_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self._store = store
        self._credentials = credentials  # what every request looks up, remembered
        self._now_ms = now_ms

    def create_organization(self, name: str) -> Organization:
        name = _name(name, "An organization")
        if any(org.name == name for org in self._store.organizations()):
            raise InvalidName(f"An organization named {name!r} exists already.")
        return self._store.add_organization(name, is_default=False)

    def organizations(self) -> list[Organization]:
        return self._store.organizations()

    def projects(self, org_id: int | None = None) -> list[Project]:
        return self._store.projects(org_id)

    def default_organization(self) -> Organization:
        return self._store.default_organization() or self._store.add_organization(
            "default", is_default=True
        )

    def create_project(self, name: str, org_id: int | None = None) -> Project:
        name = _name(name, "A project")
        org = self._organization(org_id)
        project_key = random_token(PROJECT_KEY_LENGTH)
        # The one rule for keys, which the API looks projects up by (letters and
        # digits keep it: this holds by construction, and is checked where it is made).
        assert is_project_key(project_key)
        return self._store.add_project(org.id, name, project_key)

    def issue_key(self, org_id: int | None = None) -> IssuedKey:
        org = self._organization(org_id)
        key_id, secret = random_token(12), random_token(40)
        self._store.add_key(StoredKey(key_id, org.id, sha256_hex(secret)))
        return IssuedKey(key_id, org.id, f"{KEY_PREFIX}_{key_id}_{secret}")

    async def authenticate(self, authorization: str | None) -> Principal | None:
        """The key's principal, if it is valid."""
        parsed = parse_authorization(authorization or "")
        if parsed is None:
            return None
        key_id, secret = parsed
        stored = await self._credentials.key(key_id)
        expected = stored.secret_sha256 if stored else sha256_hex("")
        matches = hmac.compare_digest(expected, sha256_hex(secret))
        now = self._now_ms()
        if stored is None or not matches or not stored.usable(now):
            return None
        self._credentials.used(key_id, now)
        return Principal(key_id, stored.org_id)

    def list_keys(self, org_id: int | None = None) -> list[KeyRecord]:
        return self._store.list_keys(org_id)

    def revoke_key(self, key_id: str) -> None:
        """The key stops working at once in this process, within the cache's lifetime
        in every other; the dashboard logins made with it end too."""
        now = self._now_ms()
        if not self._store.end_key(key_id, revoked_at=now, expires_at=None):
            raise KeyNotFound(key_id)
        self._store.end_dashboard_logins(now, login_id=None, key_id=key_id)
        self._credentials.forget_key(key_id)

    def rotate_key(self, key_id: str, grace_seconds: float) -> IssuedKey:
        """A new key of the same organization; the old one keeps working for the grace
        period (so deployments can switch over), then stops."""
        old: StoredKey | None = self._store.key(key_id)
        if old is None or not old.usable(self._now_ms()):
            raise KeyNotFound(key_id)
        issued = self.issue_key(old.org_id)
        until = self._now_ms() + int(grace_seconds * 1000)
        if old.expires_at is not None:
            until = min(until, old.expires_at)
        self._store.end_key(key_id, revoked_at=None, expires_at=until)
        self._credentials.forget_key(key_id)
        return issued

    async def _key_usable(self, key_id: str) -> bool:
        stored = await self._credentials.key(key_id)
        return stored is not None and stored.usable(self._now_ms())

    def start_dashboard_login(self, principal: Principal) -> str:
        login_id = secrets.token_urlsafe(32)
        now = self._now_ms()
        self._store.add_dashboard_login(login_id, principal, now)
        # Logins past their lifetime, or ended, are of no use to anyone: let them go.
        self._store.purge_dashboard_logins(older_than=now - DASHBOARD_LOGIN_MS)
        return login_id

    async def dashboard_login(self, login_id: str) -> Principal | None:
        """The dashboard login's principal while it is open and its key works."""
        if not is_token(login_id):
            return None
        principal = await self._credentials.dashboard_login(login_id)
        if principal is None or not await self._key_usable(principal.key_id):
            return None
        return principal

    def end_dashboard_login(self, login_id: str) -> None:
        self._store.end_dashboard_logins(self._now_ms(), login_id=login_id, key_id=None)

    async def project_for(self, principal: Principal, project_key: str) -> Project | None:
        """The project, if it exists and belongs to the principal's organization. A key
        that breaks the rule of keys cannot name one, and is never looked up."""
        if not is_project_key(project_key):
            return None
        project = await self._credentials.project(project_key)
        return project if project is not None and project.org_id == principal.org_id else None

    def is_empty(self) -> bool:
        return self._store.is_empty()

    async def projects_of(self, principal: Principal) -> list[Project]:
        return await self._credentials.projects_of(principal.org_id)

    def find_project(self, project_key: str | None) -> Project | None:
        """The project with this key, or without one the oldest project."""
        if project_key is None:
            return self._store.first_project()
        return self._store.project_by_key(project_key)

    def _organization(self, org_id: int | None) -> Organization:
        """The one named; without a name, the only one there is (made on a fresh
        database), never a hidden one beside those the operator made."""
        if org_id is None:
            existing = self._store.organizations()
            if len(existing) > 1:
                raise OrganizationRequired(existing)
            return existing[0] if existing else self.default_organization()
        org = self._store.organization(org_id)
        if org is None:
            raise OrganizationNotFound(org_id)
        return org

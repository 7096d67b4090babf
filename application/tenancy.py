"""Organizations, their projects and their API keys.

A key is shown once, when it is issued; only a SHA-256 of its secret is stored.
Keys are long random strings, so a fast hash is enough to make a stolen table
useless, and the comparison runs in constant time.
"""

import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

_ALPHABET = string.ascii_letters + string.digits
_KEY_PREFIX = "jt"
PROJECT_KEY_LENGTH = 20


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    org_id: int
    name: str
    project_key: str


@dataclass(frozen=True, slots=True)
class StoredKey:
    key_id: str
    org_id: int
    secret_sha256: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    org_id: int
    api_key: str
    """The whole key, to show once and never again."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request speaks for: an organization, through one of its keys."""

    key_id: str
    org_id: int

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


class OrganizationNotFound(Exception):
    def __init__(self, org_id: int) -> None:
        super().__init__(f"Organization {org_id} does not exist.")


class TenancyStore(Protocol):
    def add_organization(self, name: str, is_default: bool) -> Organization: ...

    def default_organization(self) -> Organization | None: ...

    def organization(self, org_id: int) -> Organization | None: ...

    def add_project(self, org_id: int, name: str, project_key: str) -> Project: ...

    def project_by_key(self, project_key: str) -> Project | None: ...

    def first_project(self) -> Project | None: ...

    def projects_of(self, org_id: int) -> list[Project]: ...

    def add_key(self, key: StoredKey) -> None: ...

    def key(self, key_id: str) -> StoredKey | None: ...

    def is_empty(self) -> bool: ...


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_authorization(header: str) -> tuple[str, str] | None:
    """(key id, secret) from a raw key or ``Bearer <key>``; None if it is not one."""
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    parts = value.split("_")
    if len(parts) != 3 or parts[0] != _KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class _TtlCache:
    """A small time-bounded memo of lookups that hit the database on every request."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[str], Any]) -> Any:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = load(key)
        if value is not None:  # misses are not remembered: a new key works at once
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (now + self._seconds, value)
        return value


class Tenancy:
    def __init__(self, store: TenancyStore, cache_seconds: float = 10.0) -> None:
        self._store = store
        self._keys = _TtlCache(cache_seconds)
        self._projects = _TtlCache(cache_seconds)

    def create_organization(self, name: str) -> Organization:
        return self._store.add_organization(name, is_default=False)

    def default_organization(self) -> Organization:
        return self._store.default_organization() or self._store.add_organization(
            "default", is_default=True
        )

    def create_project(self, name: str, org_id: int | None = None) -> Project:
        org = self._organization(org_id)
        return self._store.add_project(org.id, name, _random(PROJECT_KEY_LENGTH))

    def issue_key(self, org_id: int | None = None) -> IssuedKey:
        org = self._organization(org_id)
        key_id, secret = _random(12), _random(40)
        self._store.add_key(StoredKey(key_id, org.id, _sha256(secret)))
        return IssuedKey(key_id, org.id, f"{_KEY_PREFIX}_{key_id}_{secret}")

    def authenticate(self, authorization: str | None) -> Principal | None:
        parsed = parse_authorization(authorization or "")
        if parsed is None:
            return None
        key_id, secret = parsed
        stored: StoredKey | None = self._keys.get(key_id, self._store.key)
        expected = stored.secret_sha256 if stored else _sha256("")
        matches = hmac.compare_digest(expected, _sha256(secret))
        return Principal(key_id, stored.org_id) if stored and matches else None

    def project_for(self, principal: Principal, project_key: str) -> Project | None:
        """The project, if it exists and belongs to the principal's organization."""
        project: Project | None = self._projects.get(project_key, self._store.project_by_key)
        return project if project is not None and project.org_id == principal.org_id else None

    def is_empty(self) -> bool:
        return self._store.is_empty()

    def projects_of(self, principal: Principal) -> list[Project]:
        return self._store.projects_of(principal.org_id)

    def find_project(self, project_key: str | None) -> Project | None:
        """The project with this key, or without one the oldest project."""
        if project_key is None:
            return self._store.first_project()
        return self._store.project_by_key(project_key)

    def _organization(self, org_id: int | None) -> Organization:
        if org_id is None:
            return self.default_organization()
        org = self._store.organization(org_id)
        if org is None:
            raise OrganizationNotFound(org_id)
        return org

"""Organizations, their projects and their API keys, as values; what a key looks like
(made, read from a header); and the tenants and projects of an OpenReplay
installation that jobtrail imports.

Keys are long random strings, so a fast hash (SHA-256) is enough to make a stolen
table useless; comparisons run in constant time where they are made."""

import hashlib
import secrets
import string
from dataclasses import dataclass


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
    revoked_at: int | None = None
    expires_at: int | None = None
    """Set when the key was rotated: it works until then (epoch ms)."""

    def usable(self, now_ms: int) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now_ms < self.expires_at)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What an operator sees of a key: never its secret, nor its hash."""

    key_id: str
    org_id: int
    created_at: int
    last_used_at: int | None
    revoked_at: int | None
    expires_at: int | None


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


ALPHABET = string.ascii_letters + string.digits
KEY_PREFIX = "jt"


def random_token(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


FOREIGN_KEY_LENGTHS = range(16, 257)
"""Keys made elsewhere (an OpenReplay tenant's api_key) that may be registered."""


def foreign_key_id(key: str) -> str:
    """The id a key made elsewhere is stored under: derived from its hash, since
    such a key carries no id of ours (and the hash is stored anyway)."""
    return "x" + sha256_hex(key)[:15]


def is_foreign_key_id(key_id: str) -> bool:
    """Whether the id is one :func:`foreign_key_id` makes (ours are 12 characters)."""
    return (
        len(key_id) == 16 and key_id[0] == "x" and all(c in "0123456789abcdef" for c in key_id[1:])
    )


def is_foreign_key(key: str) -> bool:
    return (
        len(key) in FOREIGN_KEY_LENGTHS and is_token(key) and not key.startswith(f"{KEY_PREFIX}_")
    )


def parse_authorization(header: str) -> tuple[str, str] | None:
    """(key id, secret) from a raw key or ``Bearer <key>``; None if it is not one.
    A key of another format (imported from OpenReplay) is its own secret."""
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    parts = value.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return (foreign_key_id(value), value) if is_foreign_key(value) else None
    if not all(is_token(part) for part in parts[1:]):
        return None  # never sent to the database: it could not be one of ours
    return parts[1], parts[2]


def is_token(text: str) -> bool:
    """Printable ASCII without spaces: what key ids, secrets and project keys are made
    of. Anything else (a NUL, a control character) cannot name one."""
    return text.isascii() and text.isprintable() and " " not in text


class OrganizationNotFound(Exception):
    def __init__(self, org_id: int) -> None:
        super().__init__(f"Organization {org_id} does not exist.")


class OrganizationRequired(Exception):
    """Several organizations exist and the command named none: choosing one for the
    operator would put a project or key where the next key cannot see it."""

    def __init__(self, organizations: list[Organization]) -> None:
        named = ", ".join(f"{org.id} {org.name}" for org in organizations)
        super().__init__(
            f"There are {len(organizations)} organizations ({named}): name one with --org."
        )


class InvalidName(ValueError):
    """An organization or project name that is empty, or taken."""


class KeyNotFound(Exception):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"No usable API key has the id {key_id!r}.")


class TenancyChanged(Exception):
    """Another process wrote to the tenancy tables while an import was writing: its
    transaction was rolled back."""


FIRST_START_PROJECT = "default"
"""The name of the project `serve` makes on its first start, in the default
organization."""


@dataclass(frozen=True, slots=True)
class SourceTenant:
    """A row of an installation's tenants, as it is: any column may be NULL."""

    tenant_id: int | None
    name: str | None
    api_key: str | None


@dataclass(frozen=True, slots=True)
class SourceProject:
    """A live row of an installation's projects, as it is: any column may be NULL."""

    project_id: int | None
    tenant_id: int | None
    name: str | None
    project_key: str | None

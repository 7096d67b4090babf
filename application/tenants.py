"""Organizations, their projects and their API keys, as values; and the tenants and
projects of an OpenReplay installation that jobtrail imports."""

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

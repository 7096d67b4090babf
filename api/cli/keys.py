"""``jobtrail keys``: organization API keys, issued, listed, rotated and revoked."""

import json
from datetime import UTC, datetime

import click

from api.cli.support import open_services
from api.wording import counted
from application.tenants import KeyNotFound, KeyRecord, OrganizationNotFound

DEFAULT_GRACE_SECONDS = 24 * 3600


@click.group()
def keys() -> None:
    """Organization API keys."""


@keys.command("create")
@click.option(
    "--org", "org_id", type=int, help="Organization id (may be left out while there is only one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_key(org_id: int | None, as_json: bool) -> None:
    """Issue an API key and print it. It is shown once: only its hash is kept."""
    with open_services() as services:
        key = services.tenancy.issue_key(org_id)
    record = {"keyId": key.key_id, "orgId": key.org_id, "apiKey": key.api_key}
    click.echo(json.dumps(record) if as_json else key.api_key)


@keys.command("list")
@click.option("--org", "org_id", type=int, help="Only this organization's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def list_keys(org_id: int | None, as_json: bool) -> None:
    """Every key: its id, organization, when it was created and last used, and whether
    it is revoked or expiring. Never the secret."""
    with open_services(read_only=True) as services:
        if org_id is not None and org_id not in {o.id for o in services.tenancy.organizations()}:
            raise OrganizationNotFound(org_id)
        found = services.tenancy.list_keys(org_id)
    for key in found:
        click.echo(json.dumps(_record(key)) if as_json else _line(key))
    if not as_json:
        click.echo(f"{counted(len(found), 'key')}.")


@keys.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Stop a key now: every process refuses it within 10 s (this one at once), and the
    dashboard logins made with it end."""
    with open_services() as services:
        try:
            services.tenancy.revoke_key(key_id)
        except KeyNotFound as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"Revoked key {key_id}.")


@keys.command("rotate")
@click.argument("key_id")
@click.option(
    "--grace",
    type=click.FloatRange(0, 30 * 24 * 3600),
    default=DEFAULT_GRACE_SECONDS,
    show_default=True,
    help="Seconds the old key keeps working, to switch deployments over.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rotate_key(key_id: str, grace: float, as_json: bool) -> None:
    """Issue a new key of the same organization and print it (shown once); the old key
    keeps working for the grace period, then stops."""
    with open_services() as services:
        try:
            key = services.tenancy.rotate_key(key_id, grace)
        except KeyNotFound as error:
            raise click.ClickException(str(error)) from None
    record = {"keyId": key.key_id, "orgId": key.org_id, "apiKey": key.api_key, "replaces": key_id}
    click.echo(json.dumps(record) if as_json else key.api_key)


def _record(key: KeyRecord) -> dict[str, object]:
    return {
        "keyId": key.key_id,
        "orgId": key.org_id,
        "createdAt": key.created_at,
        "lastUsedAt": key.last_used_at,
        "revokedAt": key.revoked_at,
        "expiresAt": key.expires_at,
    }


def _line(key: KeyRecord) -> str:
    state = (
        f"revoked {_when(key.revoked_at)}"
        if key.revoked_at is not None
        else f"expires {_when(key.expires_at)}"
        if key.expires_at is not None
        else "active"
    )
    used = _when(key.last_used_at) if key.last_used_at is not None else "never"
    return (
        f"{key.key_id}  org {key.org_id}  created {_when(key.created_at)}  "
        f"last used {used}  {state}"
    )


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

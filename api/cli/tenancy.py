"""``jobtrail orgs`` and ``jobtrail projects``: who owns what, found again at any time."""

import json

import click

from api.cli.support import open_services
from application.tenants import InvalidName, OrganizationNotFound, Project


@click.group()
def orgs() -> None:
    """Organizations, which own projects and API keys."""


@orgs.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_org(name: str, as_json: bool) -> None:
    """Create an organization and print its id (names are unique)."""
    with open_services() as services:
        try:
            org = services.tenancy.create_organization(name)
        except InvalidName as error:
            raise click.ClickException(str(error)) from None
    click.echo(json.dumps({"id": org.id, "name": org.name}) if as_json else str(org.id))


@orgs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def list_orgs(as_json: bool) -> None:
    """Every organization: its id and name."""
    with open_services(read_only=True) as services:
        found = services.tenancy.organizations()
    for org in found:
        click.echo(
            json.dumps({"id": org.id, "name": org.name}) if as_json else f"{org.id}  {org.name}"
        )


@click.group()
def projects() -> None:
    """Projects, addressed by their projectKey in the API."""


@projects.command("create")
@click.argument("name")
@click.option(
    "--org", "org_id", type=int, help="Organization id (may be left out while there is only one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_project(name: str, org_id: int | None, as_json: bool) -> None:
    """Create a project and print its projectKey."""
    with open_services() as services:
        try:
            project = services.tenancy.create_project(name, org_id)
        except InvalidName as error:
            raise click.ClickException(str(error)) from None
    click.echo(json.dumps(_record(project)) if as_json else project.project_key)


@projects.command("list")
@click.option("--org", "org_id", type=int, help="Only this organization's projects.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def list_projects(org_id: int | None, as_json: bool) -> None:
    """Every project: its projectKey (for the API's URLs), id, name and organization."""
    with open_services(read_only=True) as services:
        if (
            org_id is not None
            and services.tenancy.organizations()
            and org_id not in {org.id for org in services.tenancy.organizations()}
        ):
            raise OrganizationNotFound(org_id)
        found = services.tenancy.projects(org_id)
    for project in found:
        line = f"{project.project_key}  id {project.id}  org {project.org_id}  {project.name}"
        click.echo(json.dumps(_record(project)) if as_json else line)


def _record(project: Project) -> dict[str, object]:
    return {
        "projectId": project.id,
        "projectKey": project.project_key,
        "name": project.name,
        "orgId": project.org_id,
    }

"""What every command of the ``jobtrail`` command line shares."""

from collections.abc import Iterator
from contextlib import contextmanager

import click

from api.composition import NoDatabase, Services, build_services
from application.errors import DamagedRecord
from application.tenants import OrganizationNotFound, OrganizationRequired, Project
from infrastructure.settings import Settings, SettingsError
from infrastructure.target_config import ConfigError
from infrastructure.targets import ServiceTargets, service_targets


@contextmanager
def open_services(read_only: bool = False, quiet: bool = False) -> Iterator[Services]:
    """The services on JOBTRAIL_DATABASE_URL, named on stderr. A command that only
    reads (``read_only``) refuses a database that does not exist yet."""
    try:
        services = build_services(settings_from_env(), create=not read_only)
    except NoDatabase as error:
        raise click.ClickException(str(error)) from None
    if not quiet:
        click.echo(f"database: {services.database.url.shown}", err=True)
    try:
        yield services
    except (OrganizationNotFound, OrganizationRequired, DamagedRecord) as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()


def project_named(services: Services, project_key: str) -> Project:
    """The project of this key, or the one line every command says when there is none."""
    project = services.tenancy.find_project(project_key)
    if project is None:
        raise click.ClickException(f"No project {project_key}.")
    return project


def settings_from_env() -> Settings:
    """The settings, or a one-line error naming the variable that is wrong."""
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def checked_targets(services: Services, announce: bool = False) -> ServiceTargets:
    """The deletion targets, each checked; a problem is one line and a non-zero exit.

    ``announce`` prints where each target deletes (on stderr), so an operator sees
    which tables and folders a worker will touch before it touches any."""
    try:
        checked = service_targets(services.settings.config_path, services.database)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if announce:
        for target in checked.targets:
            for line in target.describe():
                click.echo(f"target {line}", err=True)
    return checked

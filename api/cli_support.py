"""What every command of the ``jobtrail`` command line shares."""

from collections.abc import Iterator
from contextlib import contextmanager

import click

from api.composition import Services, build_services
from application.errors import DamagedRecord
from application.tenancy import OrganizationNotFound
from infrastructure.settings import Settings, SettingsError
from infrastructure.targets import ConfigError, ServiceTargets, service_targets


@contextmanager
def open_services() -> Iterator[Services]:
    try:
        services = build_services(Settings.from_env())
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    try:
        yield services
    except (OrganizationNotFound, DamagedRecord) as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()


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

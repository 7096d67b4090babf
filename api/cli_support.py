"""What every command of the ``jobtrail`` command line shares."""

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg
from sqlalchemy.exc import DBAPIError

from api.composition import NoDatabase, Services, build_services
from application.errors import DamagedRecord
from application.tenants import OrganizationNotFound
from infrastructure.database import DatabaseUnavailable
from infrastructure.settings import Settings, SettingsError
from infrastructure.targets import ConfigError, ServiceTargets, service_targets


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
    except (OrganizationNotFound, DamagedRecord) as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()


def settings_from_env() -> Settings:
    """The settings, or a one-line error naming the variable that is wrong."""
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _debugging() -> bool:
    try:
        return Settings.from_env().log_level == "DEBUG"
    except SettingsError:
        return False


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


class JobtrailGroup(click.Group):
    """Ordinary failures (no database, a refused connection, a bad setting) are one
    line on stderr and a non-zero exit; the traceback only with ``--debug`` or
    ``JOBTRAIL_LOG_LEVEL=DEBUG``."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader stopped reading (`| head`): nothing is wrong, nothing to say.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except Exception as error:
            if ctx.meta.get("jobtrail.debug") or _debugging():
                raise
            raise click.ClickException(explain(error)) from None


def explain(error: BaseException) -> str:
    """One line that names the problem, and what to do about it."""
    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [""])[0]
    if isinstance(error, DBAPIError | psycopg.Error | sqlite3.Error | DatabaseUnavailable):
        return (
            f"The database cannot be used: {first} "
            "(check JOBTRAIL_DATABASE_URL, and that the server is running)."
        )
    return f"{type(error).__name__}: {first} (run with --debug for the traceback)."

"""The ``jobtrail`` command group: each command's module is imported only when that
command runs (or when ``--help`` lists them all), and ordinary failures are one line.

Importing every command's dependencies (SQLAlchemy, psycopg, eventsourcing,
uvicorn, rich…) cost about a second of CPU before any command, ``--version``
included, did anything (issue 26): operators script these commands."""

import importlib
import os
import sys

import click


class JobtrailGroup(click.Group):
    """Commands named as ``"module:attribute"`` and loaded on first use.

    Ordinary failures (no database, a refused connection, a bad setting) are one
    line on stderr and a non-zero exit; the traceback only with ``--debug`` or
    ``JOBTRAIL_LOG_LEVEL=DEBUG``."""

    def __init__(self, *args: object, lazy: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy and cmd_name not in self.commands:
            module, _, attribute = self._lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command), self._lazy[cmd_name]
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

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
    # Only a failing command pays for these imports.
    import sqlite3

    import psycopg
    from sqlalchemy.exc import DBAPIError

    from infrastructure.database import DatabaseUnavailable
    from infrastructure.settings import SettingsError
    from infrastructure.target_config import ConfigError

    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [""])[0]
    if isinstance(error, SettingsError | ConfigError):
        return first  # already a sentence that names the setting and the fix
    if isinstance(error, DBAPIError | psycopg.Error | sqlite3.Error | DatabaseUnavailable):
        return (
            f"The database cannot be used: {first} "
            "(check JOBTRAIL_DATABASE_URL, and that the server is running)."
        )
    return f"{type(error).__name__}: {first} (run with --debug for the traceback)."


def _debugging() -> bool:
    from infrastructure.settings import Settings, SettingsError

    try:
        return Settings.from_env().log_level == "DEBUG"
    except SettingsError:
        return False

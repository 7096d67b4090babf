"""``jobtrail targets``: the deletion targets, checked on demand."""

import click

from api.cli.remains import targets_find
from api.cli.support import checked_targets, open_services


@click.group()
def targets() -> None:
    """The deletion targets a worker deletes from (JOBTRAIL_CONFIG)."""


@targets.command("check")
def targets_check() -> None:
    """Check every target (directories, databases, tables, columns) without deleting."""
    with open_services() as services:
        checked = checked_targets(services)
    lines = [line for target in checked.targets for line in target.describe()]
    for line in lines:
        click.echo(f"ok  {line}")
    click.echo(f"{len(lines)} targets checked, batch size {checked.batch_size}.")


targets.add_command(targets_find)  # `jobtrail targets find`, in its own module

"""``jobtrail projections``: status, rebuild and verify of the read model."""

import json
import sys

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.cli.support import open_services
from application.audit import compare
from application.projection_check import fold_projection
from infrastructure.rebuild import (
    Rebuild,
    RebuildInProgress,
    UnknownProjection,
    rebuild_running,
)


@click.group()
def projections() -> None:
    """Read-model projections: status, rebuild, verify."""


@projections.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def projections_status(as_json: bool) -> None:
    """Each projection's position, the log head, the lag and the state."""
    with open_services(read_only=True) as services:
        head = services.log.head()
        rows = []
        for record in services.projection_store.records():
            state = record.state
            if state == "rebuilding" and not rebuild_running(services.database, "jobs"):
                state = "rebuild interrupted"  # nobody holds it: `rebuild` resumes it
            rows.append(
                {
                    "name": record.name,
                    "position": record.position,
                    "head": head,
                    "lag": head - record.position,
                    "state": state,
                    "error": record.error,
                }
            )
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table(title="Projections")
    for column in ("name", "position", "head", "lag", "state", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(("" if value is None else str(value)) for value in row.values()))
    Console().print(table)


@projections.command("rebuild")
@click.argument("name", default="jobs")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100_000))
def projections_rebuild(name: str, batch_size: int) -> None:
    """Replay the log into a new read model beside the live one, then swap it in."""
    with open_services() as services:
        try:
            rebuild = Rebuild(services.log, services.database, name, batch_size)
        except UnknownProjection as error:
            raise click.ClickException(str(error)) from None
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(f"rebuilding {name}", total=services.log.head(), rate="-")

            def show(position: int, head: int) -> None:
                speed = bar.tasks[task].speed
                rate = f"{speed:,.0f}" if speed else "-"
                bar.update(task, completed=position, total=head, rate=rate)

            try:
                result = rebuild.run(show)
            except RebuildInProgress as error:
                raise click.ClickException(str(error)) from None
        damage = services.projection_store.damage()
    resumed = f", resumed from position {result.resumed_from}" if result.resumed_from else ""
    click.echo(
        f"Rebuilt {name} to position {result.position}: {result.events} events in "
        f"{result.seconds:.1f} s{resumed}. The new read model is live."
    )
    for damaged in damage:
        click.echo(
            f"Damaged event at position {damaged.position} (aggregate {damaged.aggregate_id}): "
            f"{damaged.detail}",
            err=True,
        )
    sys.exit(1 if damage else 0)


@projections.command("verify")
def projections_verify() -> None:
    """Fold the log afresh and compare it with the live read model, job by job."""
    with open_services(read_only=True) as services:
        position = services.projector.position()
        expected = fold_projection(services.log, position)
        differences = list(compare(expected, services.read_model.every_job()))
    for difference in differences:
        click.echo(str(difference))
    click.echo(
        f"{len(expected)} jobs at position {position} compared, {len(differences)} differences."
    )
    sys.exit(1 if differences else 0)

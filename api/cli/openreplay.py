"""`jobtrail openreplay import`: take over an OpenReplay installation's jobs API."""

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import click

from api.cli.support import open_services
from api.composition import Services
from api.wording import counted
from application.epoch import epoch_ms
from application.openreplay_import import ImportRefused, import_openreplay
from application.tenants import TenancyChanged
from infrastructure.openreplay_clickhouse import (
    ClickHouseUnreadable,
    openreplay_clickhouse_targets,
)
from infrastructure.openreplay_source import NotOpenReplay, SqlOpenReplaySource
from infrastructure.openreplay_targets import openreplay_targets, targets_toml


@click.group()
def openreplay() -> None:
    """Replace OpenReplay's jobs API with jobtrail."""


@openreplay.command("import")
@click.option("--from", "source_url", required=True, help="The OpenReplay PostgreSQL URL.")
@click.option("--s3-endpoint", help="Object storage URL (MinIO); default: AWS S3.")
@click.option("--s3-bucket", default="mobs", show_default=True, help="The recordings' bucket.")
@click.option("--s3-region", help="The bucket's region (AWS).")
@click.option(
    "--clickhouse",
    "clickhouse_url",
    help="OpenReplay's ClickHouse, http(s)://user:password@host:8123/: its tables too.",
)
@click.option(
    "--config-out",
    type=click.Path(dir_okay=False),
    default="jobtrail-openreplay.toml",
    show_default=True,
    help="Where to write the deletion targets (JOBTRAIL_CONFIG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def import_command(
    source_url: str,
    s3_endpoint: str | None,
    s3_bucket: str,
    s3_region: str | None,
    clickhouse_url: str | None,
    config_out: str,
    as_json: bool,
) -> None:
    """Import OpenReplay's tenants (with their API keys) and live projects (with
    their ids and keys), and write targets for its sessions and recordings.

    All or nothing: every row is checked first, and each one that cannot be imported
    is named; what is written goes in one transaction. Running it again adds what is
    new and changes nothing else."""
    try:
        source = SqlOpenReplaySource(source_url)
    except NotOpenReplay as error:
        raise click.ClickException(str(error)) from None
    try:
        session_tables = source.session_tables()  # before anything is written
        clickhouse = openreplay_clickhouse_targets(clickhouse_url) if clickhouse_url else []
        with open_services() as services:
            report = import_openreplay(
                source,
                services.tenancy_store,
                has_jobs=_jobs_of(services),
                now_ms=epoch_ms(services.clock.now()),
            )
    except ImportRefused as refused:
        lines = [str(refusal) for refusal in refused.refusals]
        if as_json:
            click.echo(json.dumps({"refused": lines}))
        for line in lines:
            click.echo(f"Refused {line}", err=True)
        raise click.ClickException(
            f"Nothing was imported ({len(lines)} rows refused): jobtrail's database is as "
            "it was. Correct the rows named above in the installation, then run it again."
        ) from None
    except (NotOpenReplay, TenancyChanged, ClickHouseUnreadable) as error:
        raise click.ClickException(str(error)) from None
    finally:
        source.close()
    config = _write_config(
        Path(config_out),
        targets_toml(
            openreplay_targets(
                source_url,
                s3_bucket,
                s3_endpoint,
                s3_region,
                session_tables=session_tables,
                clickhouse=clickhouse,
            )
        ),
    )
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(report), "config": config}))
        return
    for what, added, kept in (
        ("Organizations", report.organizations_added, report.organizations_kept),
        ("API keys", report.keys_added, report.keys_kept),
        ("Projects", report.projects_added, report.projects_kept),
    ):
        click.echo(f"{what}: {added} added, {kept} already here")
    if report.keys_revoked:
        click.echo(
            f"Revoked {counted(report.keys_revoked, 'API key')} imported before: "
            "no longer the tenant's key in the installation"
        )
    for line in report.moved:
        click.echo(f"Moved {line}")
    for line in report.skipped:
        click.echo(f"Skipped {line}", err=True)
    click.echo(f"Targets: {config} {config_out}")
    if not report.changed:
        click.echo("Nothing new to import.")
    click.echo(f"Run jobtrail with JOBTRAIL_CONFIG={Path(config_out).resolve()}")


def _jobs_of(services: Services) -> Callable[[int], bool]:
    """Whether a jobtrail project has a job, by the read model, caught up with the log
    first (a job just scheduled is in the log before it is in the read model). The
    catching up happens here, before the import's transaction: on SQLite that holds
    the write lock, which the read model's own writes would wait for."""
    services.projector.catch_up()

    def has_jobs(project_id: int) -> bool:
        return bool(services.read_model.page(project_id, None, limit=1, offset=0))

    return has_jobs


def _write_config(path: Path, content: str) -> str:
    """Writes the targets once; a file that exists is never overwritten (an operator
    may have edited it). Returns what happened: written, unchanged or kept."""
    if path.exists():
        return "unchanged" if path.read_text() == content else "kept (it differs; not overwritten)"
    if not path.resolve().parent.is_dir():
        raise click.ClickException(f"The folder {path.resolve().parent} does not exist.")
    # It may hold the database's password: readable by its owner only.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)
    return "written"

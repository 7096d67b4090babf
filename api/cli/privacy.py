"""Forgettable personal data on the command line: forget now, and prove without the person."""

import dataclasses
import json
import sys

import click
import msgspec

from api.cli.audit import audit as audit  # `jobtrail audit`, with prove added here
from api.cli.remains import search_line
from api.cli.support import open_services, project_named
from api.wording import counted, iso
from application.audit import plain
from application.proof import ProvenJob, prove
from domain.errors import InvalidJobRequest


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def forget(as_json: bool) -> None:
    """Forget the users whose jobs ended JOBTRAIL_FORGET_AFTER days ago or more.

    Their data keys are destroyed: the jobs keep their times, statuses and receipts,
    and show "[forgotten]" where the user's id was. Prints counts, never ids.

    A damaged record (ADR 17) does not stop the others: its user is passed over, one
    line on stderr names the job and the damage, and the exit status is 1."""
    with open_services() as services:
        report = services.forgetting.forget_due()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report)))
    else:
        click.echo(
            f"Forgot {counted(report.users, 'user')} ({counted(report.jobs, 'job')}); "
            f"destroyed {counted(report.keys, 'data key')}."
        )
        if report.unsealed_jobs:
            click.echo(
                f"{report.unsealed_jobs} of those jobs were requested before personal data "
                "was sealed: they show [forgotten] everywhere, but the log's own bytes still "
                "hold their user ids (docs/adr/0018)."
            )
    for damaged in report.damaged:
        click.echo(f"Damaged record passed over, its user not forgotten: {damaged}", err=True)
    sys.exit(1 if report.damaged else 0)


@click.command("prove")
@click.argument("user_id")
@click.option("--project", "project_key", help="Only this project (default: every project).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def prove_command(user_id: str, project_key: str | None, as_json: bool) -> None:
    """The deletion jobs of USER_ID, found by its keyed hash: before and after the
    user is forgotten. Exit 1 when there is none."""
    with open_services(read_only=True) as services:
        if project_key is None:
            project_ids = [project.id for project in services.tenancy.projects()]
        else:
            project_ids = [project_named(services, project_key).id]
        try:
            proven = prove(services.log, user_id, project_ids)
        except InvalidJobRequest as error:
            raise click.BadParameter(str(error), param_hint="USER_ID") from None
    if as_json:
        click.echo(json.dumps([_plain(p) for p in proven]))
    else:
        for p in proven:
            click.echo(_line(p))
            if p.last_search is not None:
                click.echo(search_line(p.last_search))
    if not proven:
        where = f"project {project_key}" if project_key else "any project"
        click.echo(f"No deletion job for this user id in {where}.", err=True)
    sys.exit(0 if proven else 1)


def _plain(proven: ProvenJob) -> dict[str, object]:
    return {
        **msgspec.to_builtins(proven.job),
        "receipt": proven.receipt,
        **({"receiptUnconfirmed": proven.unconfirmed} if proven.unconfirmed else {}),
        "forgotten": proven.forgotten,
        "lastSearch": plain(proven.last_search),
    }


def _line(proven: ProvenJob) -> str:
    job = proven.job
    receipt = ", ".join(f"{target} {count}" for target, count in sorted(proven.receipt.items()))
    if proven.unconfirmed:
        more = ", ".join(f"{t} {n}" for t, n in sorted(proven.unconfirmed.items()))
        receipt += f" (and at most {more} more, reported after a lost lease)"
    return (
        f"job {job.job_id}  project {job.project_id}  {job.status}  "
        f"requested {iso(job.created_at)}  last change {iso(job.updated_at)}  "
        f"deleted: {receipt or 'nothing'}{'  (user forgotten)' if proven.forgotten else ''}"
    )


audit.add_command(prove_command)  # `jobtrail audit prove`, beside audit's own commands

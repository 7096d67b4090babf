"""The ``jobtrail`` command line: run the service and administer tenants.

Each command lives in its own module, imported only when it runs (api.cli.group)."""

import click

from api.cli.group import JobtrailGroup

COMMANDS = {
    "serve": "api.cli.service:serve",
    "worker": "api.cli.service:worker",
    "demo": "api.cli.service:demo",
    "targets": "api.cli.targets:targets",
    "jobs": "api.cli.jobs:jobs",
    "history": "api.cli.audit:history",
    "verify": "api.cli.audit:verify",
    "audit": "api.cli.proof:audit",
    "forget": "api.cli.privacy:forget",
    "projections": "api.cli.projections:projections",
    "orgs": "api.cli.tenancy:orgs",
    "projects": "api.cli.tenancy:projects",
    "keys": "api.cli.keys:keys",
    "openreplay": "api.cli.openreplay:openreplay",
}


@click.group(cls=JobtrailGroup, lazy=COMMANDS)
@click.version_option(package_name="jobtrail", prog_name="jobtrail")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """jobtrail: event-sourced user-data deletion jobs (OpenReplay Jobs API)."""
    ctx.meta["jobtrail.debug"] = debug

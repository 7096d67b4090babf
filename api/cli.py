"""The ``jobtrail`` command line: run the service and administer tenants.

Each command lives in its own module, imported only when it runs (api.cli_group)."""

import click

from api.cli_group import JobtrailGroup

COMMANDS = {
    "serve": "api.cli_service:serve",
    "worker": "api.cli_service:worker",
    "demo": "api.cli_service:demo",
    "targets": "api.cli_targets:targets",
    "jobs": "api.cli_jobs:jobs",
    "history": "api.cli_audit:history",
    "verify": "api.cli_audit:verify",
    "audit": "api.cli_proof:audit",
    "forget": "api.cli_privacy:forget",
    "projections": "api.cli_projections:projections",
    "orgs": "api.cli_tenancy:orgs",
    "projects": "api.cli_tenancy:projects",
    "keys": "api.cli_keys:keys",
    "openreplay": "api.cli_openreplay:openreplay",
}


@click.group(cls=JobtrailGroup, lazy=COMMANDS)
@click.version_option(package_name="jobtrail", prog_name="jobtrail")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """jobtrail: event-sourced user-data deletion jobs (OpenReplay Jobs API)."""
    ctx.meta["jobtrail.debug"] = debug

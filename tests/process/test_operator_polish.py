"""Issue 26: no hidden organization, a command line that starts at once and lists
every command, sentences that count right, and a server that says when jobs run."""

import json
import subprocess
import sys
from pathlib import Path

from api.cli import COMMANDS
from api.cli.group import explain
from infrastructure.settings import SettingsError
from infrastructure.target_config import ConfigError
from tests.process.conftest import JOBTRAIL, jobtrail, start_server

HEAVY_LIBRARIES = ("sqlalchemy", "psycopg", "eventsourcing", "uvicorn", "starlette", "rich")


def test_without_org_a_project_and_a_key_go_to_the_only_organization(database_url: str) -> None:
    assert jobtrail(database_url, "orgs", "create", "acme").stdout.strip() == "1"

    made = jobtrail(database_url, "projects", "create", "web", "--json")
    key = jobtrail(database_url, "keys", "create", "--json")

    assert json.loads(made.stdout)["orgId"] == 1
    assert json.loads(key.stdout)["orgId"] == 1
    listed = jobtrail(database_url, "orgs", "list").stdout.splitlines()
    assert listed == ["1  acme"]  # no second, hidden "default" organization


def test_with_several_organizations_org_must_be_named_and_nothing_is_made(
    database_url: str,
) -> None:
    jobtrail(database_url, "orgs", "create", "acme")
    jobtrail(database_url, "orgs", "create", "beta")

    project = jobtrail(database_url, "projects", "create", "web")
    key = jobtrail(database_url, "keys", "create")

    expected = "Error: There are 2 organizations (1 acme, 2 beta): name one with --org.\n"
    assert (project.returncode, project.stderr.splitlines()[-1] + "\n") == (1, expected)
    assert (key.returncode, key.stderr.splitlines()[-1] + "\n") == (1, expected)
    assert jobtrail(database_url, "projects", "list").stdout == ""
    assert "0 keys." in jobtrail(database_url, "keys", "list").stdout
    named = jobtrail(database_url, "projects", "create", "web", "--org", "2", "--json")
    assert json.loads(named.stdout)["orgId"] == 2


def test_the_version_is_answered_without_loading_any_database_or_web_library() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from click.testing import CliRunner\n"
            "from api.cli import main\n"
            "assert CliRunner().invoke(main, ['--version']).exit_code == 0\n"
            f"print(' '.join(m for m in {HEAVY_LIBRARIES!r} if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == ""


def test_a_tenancy_command_loads_neither_the_web_server_nor_the_terminal_tables(
    tmp_path: Path,
) -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from click.testing import CliRunner\n"
            "from api.cli import main\n"
            "result = CliRunner().invoke(main, ['orgs', 'create', 'acme'])\n"
            "assert result.exit_code == 0, result.output\n"
            "web = ('uvicorn', 'rich', 'boto3', 'jinja2')\n"
            "print(' '.join(m for m in web if m in sys.modules))",
        ],
        env={"JOBTRAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'jobtrail.db'}", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == ""


def test_help_lists_every_command_with_a_line_each() -> None:
    shown = subprocess.run(
        [str(JOBTRAIL), "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = shown.split("Commands:\n", 1)[1].splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted(COMMANDS)
    assert all(len(line.split()) > 1 for line in listed)  # each with its line of help


def test_counts_agree_with_their_nouns(database_url: str) -> None:
    jobtrail(database_url, "keys", "create")
    assert jobtrail(database_url, "keys", "list").stdout.splitlines()[-1] == "1 key."


def test_a_read_only_command_on_a_missing_postgresql_schema_names_no_folder(
    database_url: str,
) -> None:
    missing = jobtrail(database_url, "verify")
    assert missing.returncode == 1
    if database_url.startswith("sqlite"):
        assert "folder you run this in" in missing.stderr
    else:
        assert "folder" not in missing.stderr


def test_serve_says_when_the_jobs_it_schedules_will_start(
    database_url: str, tmp_path: Path
) -> None:
    server = start_server(database_url, tmp_path)
    server.process.terminate()
    server.process.wait(timeout=15)
    assert "Deletion jobs start at the next UTC midnight, as OpenReplay's do" in (
        server.first_start_output
    )

    again = start_server(
        database_url,
        tmp_path,
        extra_env={"JOBTRAIL_DELETION_DELAY": "0"},
        credentials=(server.api_key, server.project_key),
    )
    again.process.terminate()
    assert again.process.stdout is not None
    said = again.process.stdout.read()
    again.process.wait(timeout=15)
    assert "Deletion jobs start at once (JOBTRAIL_DELETION_DELAY)." in said


def test_a_setting_or_target_error_from_anywhere_is_its_own_plain_line() -> None:
    said = "JOBTRAIL_BATCH_SIZE must be a whole number, 1 or more, not 'abc'."
    assert explain(SettingsError(said)) == said
    assert explain(ConfigError("Target sessions: table 'x' does not exist.")) == (
        "Target sessions: table 'x' does not exist."
    )

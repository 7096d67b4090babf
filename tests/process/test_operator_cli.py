"""The command line as a new operator meets it: plain one-line errors, the database
always named, nothing created by a command that only reads, keys and projects
that can be found again."""

import os
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import httpx2 as httpx
import pytest

from api.composition import build_services
from infrastructure.settings import Settings
from tests.process.conftest import JOBTRAIL, start_server


def run(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(JOBTRAIL), *args],
        cwd=workdir,
        env={**os.environ, "COLUMNS": "80", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def a_plain_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("Error")]
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    assert lines and all(word in lines[-1] for word in words), result.stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlite:/x.db", ["not a database URL", "sqlite:///"]),
        ("sqlite://x.db", ["names a host", "sqlite:///x.db"]),
        ("sqlite:///nowhere/dir/x.db", ["nowhere/dir", "does not exist"]),
        ("postgresql://postgres@127.0.0.1:1/jobtrail", ["cannot be used", "refused"]),
    ],
)
@pytest.mark.parametrize(
    "command", [("projections", "status"), ("serve", "--port", "1"), ("verify",)]
)
def test_an_unusable_database_is_one_line_naming_it(
    tmp_path: Path, url: str, words: list[str], command: tuple[str, ...]
) -> None:
    a_plain_error(run(tmp_path, *command, JOBTRAIL_DATABASE_URL=url), *words)


@pytest.mark.parametrize(
    ("command", "variable", "value", "words"),
    [
        ("serve", "JOBTRAIL_LEASE", "30", ["Unknown setting JOBTRAIL_LEASE", "LEASE_SECONDS"]),
        ("worker", "JOBTRAIL_LOG_LEVEL", "loud", ["JOBTRAIL_LOG_LEVEL must be", "'loud'"]),
    ],
)
def test_a_setting_jobtrail_cannot_use_stops_it_at_start_in_one_line(
    tmp_path: Path, command: str, variable: str, value: str, words: list[str]
) -> None:
    a_plain_error(run(tmp_path, command, **{variable: value}), *words)
    assert not (tmp_path / "jobtrail.db").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/jobtrail"
    result = run(tmp_path, "--debug", "projections", "status", JOBTRAIL_DATABASE_URL=url)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_a_bad_config_file_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    for command in (("serve", "--port", "1"), ("worker", "--once")):
        result = run(tmp_path, *command, JOBTRAIL_DATABASE_URL=db, JOBTRAIL_CONFIG="/no/such.toml")
        a_plain_error(result, "/no/such.toml")


@pytest.mark.parametrize(
    "command",
    [
        ("verify",),
        ("history", "4"),
        ("audit", "replay"),
        ("audit", "export"),
        ("projections", "status"),
        ("projections", "verify"),
        ("keys", "list"),
        ("projects", "list"),
        ("orgs", "list"),
    ],
)
def test_a_command_that_only_reads_refuses_a_database_that_is_not_there(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = run(tmp_path, *command)  # the default URL, in a folder without a database
    a_plain_error(result, "No jobtrail database at", str(tmp_path / "jobtrail.db"))
    assert list(tmp_path.iterdir()) == []


def test_every_command_names_its_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "jobtrail.db"
    db.parent.mkdir()
    env = {"JOBTRAIL_DATABASE_URL": f"sqlite:///{db}"}
    for command in (("orgs", "create", "acme"), ("orgs", "list"), ("verify",)):
        result = run(tmp_path, *command, **env)
        assert result.returncode == 0, result.stderr
        assert f"database: sqlite:///{db}" in result.stderr


def test_organizations_need_a_name_and_a_new_one(tmp_path: Path) -> None:
    env = {"JOBTRAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'jobtrail.db'}"}
    a_plain_error(run(tmp_path, "orgs", "create", "  ", **env), "needs a name")
    assert run(tmp_path, "orgs", "create", "acme", **env).returncode == 0
    a_plain_error(run(tmp_path, "orgs", "create", "acme", **env), "exists already")
    a_plain_error(run(tmp_path, "projects", "create", "", **env), "needs a name")


def test_version(tmp_path: Path) -> None:
    result = run(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("jobtrail, version ")


def test_every_start_of_serve_says_where_it_is_and_what_it_knows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    first = start_server(url, tmp_path)
    first.process.terminate()
    first.process.wait(timeout=20)
    listed = run(tmp_path, "projects", "list", JOBTRAIL_DATABASE_URL=url)
    assert first.project_key in listed.stdout
    again = subprocess.Popen(
        [str(JOBTRAIL), "serve", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "JOBTRAIL_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert again.stdout is not None
        said = again.stdout.readline() + again.stdout.readline() + again.stdout.readline()
    finally:
        again.terminate()
        again.wait(timeout=20)
    assert str(tmp_path / "jobtrail.db") in said
    assert "projects: 1, API keys: 1" in said
    assert first.project_key in said
    assert first.api_key not in said


def test_serve_honours_jobtrail_embedded_worker_0(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    env = {"JOBTRAIL_EMBEDDED_WORKER": "0", "JOBTRAIL_DELETION_DELAY": "0",
           "JOBTRAIL_WORKER_POLL_INTERVAL": "0.1"}  # fmt: skip
    server = start_server(url, tmp_path, extra_env=env)
    try:
        base = f"{server.base_url}/api/v1/{server.project_key}"
        auth = {"Authorization": server.api_key}
        job = httpx.delete(f"{base}/users/waiting@example.com", headers=auth).json()["data"]
        time.sleep(1.0)  # ten polls of an embedded worker, were there one
        status = httpx.get(f"{base}/jobs/{job['jobId']}", headers=auth).json()["data"]["status"]
        assert status == "scheduled"
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)


def test_a_worker_says_what_it_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    env = {"JOBTRAIL_DATABASE_URL": url, "JOBTRAIL_DELETION_DELAY": "0",
           "JOBTRAIL_LOG_FORMAT": "plain"}  # fmt: skip
    assert run(tmp_path, "orgs", "create", "acme", **env).returncode == 0
    idle = run(tmp_path, "worker", "--once", **env)
    assert idle.returncode == 0, idle.stderr
    assert idle.stdout.strip() == "No job was due."
    assert "worker worker:" in idle.stderr and "stopped" in idle.stderr
    project = run(tmp_path, "projects", "create", "p", **env).stdout.strip()
    assert run(tmp_path, "demo", "seed", "--users", "1", "--sessions", "3",
               "--project", project, **env).returncode == 0  # fmt: skip
    key = run(tmp_path, "keys", "create", **env).stdout.strip()
    server = start_server(
        url,
        tmp_path,
        credentials=(key, project),
        extra_args=("--no-worker",),
        extra_env={"JOBTRAIL_DELETION_DELAY": "0"},
    )
    try:
        base = f"{server.base_url}/api/v1/{project}"
        response = httpx.delete(f"{base}/users/user0@example.com", headers={"Authorization": key})
        assert response.status_code == 200, response.text
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)
    busy = run(tmp_path, "worker", "--once", **env)
    assert busy.stdout.strip() == "Ran every due job: 1 completed."
    assert "started by worker:" in busy.stderr and "completed" in busy.stderr


def test_history_keeps_whole_times_in_a_narrow_terminal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    env = {"JOBTRAIL_DATABASE_URL": url}
    server = start_server(url, tmp_path, extra_args=("--no-worker",))
    try:
        base = f"{server.base_url}/api/v1/{server.project_key}"
        httpx.delete(f"{base}/users/someone@example.com", headers={"Authorization": server.api_key})
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)
    result = run(tmp_path, "history", "1", **env)
    assert result.returncode == 0, result.stderr
    assert any(
        len(word) == len("2026-11-28T12:00:00.000+00:00") and word[4] == "-"
        for line in result.stdout.splitlines()
        for word in line.replace("│", " ").split()
    ), result.stdout


def test_a_command_that_only_reads_changes_nothing_in_a_file_that_is_not_jobtrails(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE stored_events (id INTEGER PRIMARY KEY)")  # another app's
        conn.commit()
    before = other.read_bytes()
    result = run(tmp_path, "verify", JOBTRAIL_DATABASE_URL=f"sqlite:///{other}")
    a_plain_error(result, "No jobtrail database at")
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            tmp_path,
            "serve",
            "--port",
            str(port),
            JOBTRAIL_DATABASE_URL=f"sqlite:///{tmp_path / 'jobtrail.db'}",
        )
    a_plain_error(result, f"Cannot listen on 127.0.0.1:{port}")


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    env = {**os.environ, "JOBTRAIL_DATABASE_URL": url}
    services = build_services(Settings(database_url=url))
    try:  # more lines than a pipe holds, so that the writer meets the closed pipe
        for n in range(3000):
            services.tenancy.create_project(f"project number {n}")
    finally:
        services.close()
    shell = f"{JOBTRAIL} projects list --json | head -c 1 > /dev/null; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True)
    assert "Error" not in result.stderr and result.returncode == 0, result.stderr


def test_make_serve_installs_only_the_service_and_takes_a_port() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        ["make", "-n", "-B", "serve", "PORT=9123"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "jobtrail serve --port 9123" in result.stdout
    assert "pip install --quiet -e ." in result.stdout
    assert "[dev]" not in result.stdout

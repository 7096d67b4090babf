"""Targets are checked before any job runs: by `targets check`, `worker` and `serve`."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.process.conftest import JOBTRAIL, free_port


def run(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(JOBTRAIL), *args],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "etc" / "targets.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    return str(path)


FILES = (
    '[[targets]]\nkind = "files"\nname = "exports"\ndirectory = "{}"\n'
    'pattern = "{{projectId}}/{{userId}}"\n'
)
SQL = '[[targets]]\nkind = "sql"\nname = "events"\ntable = "{}"\nuser_id_column = "{}"\n'


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (FILES.format("exports"), "exports"),
        (SQL.format("no_such_table", "user_id"), "no_such_table"),
        (SQL.format("sessions", "uid"), "uid"),
        (
            '[[targets]]\nkind = "sql"\nname = "far"\ntable = "t"\n'
            'url = "postgresql://nobody@127.0.0.1:1/none"\n',
            "far",
        ),
    ],
    ids=["missing directory", "missing table", "missing column", "unreachable database"],
)
@pytest.mark.parametrize("command", [("targets", "check"), ("worker", "--once"), ("worker",)])
def test_a_target_that_cannot_be_used_stops_the_command_with_one_line(
    tmp_path: Path, body: str, named: str, command: tuple[str, ...]
) -> None:
    result = run(
        tmp_path,
        *command,
        JOBTRAIL_DATABASE_URL=f"sqlite:///{tmp_path / 'jobtrail.db'}",
        JOBTRAIL_CONFIG=config(tmp_path, body),
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) <= 2, result.stderr
    assert named in lines[-1] and "Traceback" not in result.stderr


def test_serve_refuses_to_start_with_a_target_it_cannot_use(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "serve",
        "--port",
        str(free_port()),
        JOBTRAIL_DATABASE_URL=f"sqlite:///{tmp_path / 'jobtrail.db'}",
        JOBTRAIL_CONFIG=config(tmp_path, FILES.format("exports")),
    )
    assert result.returncode != 0
    assert "exports" in result.stderr.strip().splitlines()[-1]


def test_targets_check_prints_each_target_with_its_resolved_directory(tmp_path: Path) -> None:
    (tmp_path / "etc" / "exports").mkdir(parents=True)
    result = run(
        tmp_path / "etc",
        "targets",
        "check",
        JOBTRAIL_DATABASE_URL=f"sqlite:///{tmp_path / 'jobtrail.db'}",
        JOBTRAIL_CONFIG=config(tmp_path, FILES.format("exports")),
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"exports: files {tmp_path / 'etc' / 'exports' / '{projectId}/{userId}'}" in result.stdout
    )


def test_the_default_recordings_folder_sits_beside_the_sqlite_database(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    result = run(
        elsewhere, "targets", "check", JOBTRAIL_DATABASE_URL=f"sqlite:///{data / 'jobtrail.db'}"
    )
    assert result.returncode == 0, result.stderr
    assert str(data / "recordings") in result.stdout
    assert not (elsewhere / "recordings").exists()

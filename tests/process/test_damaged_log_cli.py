"""Every tool that reads the log names an undecodable event in one line and exits 1."""

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from api.composition import Services, build_services
from infrastructure.settings import Settings
from tests.api.test_reliability_round2 import damage
from tests.process.conftest import jobtrail
from tests.scheduling import SchedulingCommands


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    project = built.tenancy.create_project("a")
    for user in ("ann", "bob", "cy"):
        SchedulingCommands.of(built).schedule_user_deletion(project.id, user, "key:k")
    yield built
    built.close()


def one_line_naming(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [
        line for line in result.stderr.strip().splitlines() if not line.startswith("database:")
    ]
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ("history", "2"),
        ("audit", "replay"),
        ("audit", "export"),
        ("projections", "verify"),
    ],
)
def test_a_tool_names_the_damaged_event_and_exits_1(
    services: Services, database_url: str, command: tuple[str, ...]
) -> None:
    position = damage(services, 2)
    result = jobtrail(database_url, *command)
    one_line_naming(
        result, "damaged", *(["position", str(position)] if command[0] != "history" else [])
    )


def test_an_export_to_a_file_writes_nothing_when_the_log_is_damaged(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    damage(services, 3)
    exports = tmp_path / "exports"
    exports.mkdir()
    output = exports / "export.jsonl"
    result = jobtrail(database_url, "audit", "export", "--output", str(output))
    one_line_naming(result, "damaged", "Nothing was written")
    assert list(exports.iterdir()) == []


def test_a_rebuild_contains_the_damaged_event_and_says_so(
    services: Services, database_url: str
) -> None:
    position = damage(services, 2)
    result = jobtrail(database_url, "projections", "rebuild")
    assert result.returncode == 1
    assert f"Damaged event at position {position}" in result.stderr
    assert "The new read model is live." in result.stdout


def test_verify_names_the_position_of_an_event_edited_as_text(
    services: Services, database_url: str
) -> None:
    if services.database.backend != "sqlite":
        pytest.skip("TEXT-typed edits are a SQLite matter")
    with services.database.writer() as conn:
        conn.execute(text("UPDATE stored_events SET state = 'edited' WHERE rowid = 4"))
    result = jobtrail(database_url, "verify")
    assert result.returncode == 1
    assert "BROKEN at position 4" in result.stdout
    assert "Traceback" not in result.stderr

"""The audit commands, run as an operator runs them."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import text, update

from api.composition import Services, build_services
from infrastructure.settings import Settings
from infrastructure.tables import jobs
from tests.process.conftest import jobtrail
from tests.scheduling import SchedulingCommands


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    project_a = built.tenancy.create_project("a")
    project_b = built.tenancy.create_project("b")
    first = (
        SchedulingCommands.of(built)
        .schedule_user_deletion(project_a.id, "ann", "key:k1")
        .job.job_id
    )
    built.commands.start(first, "worker:w")
    built.commands.complete(first, "worker:w", 1)
    second = (
        SchedulingCommands.of(built)
        .schedule_user_deletion(project_b.id, "bob", "key:k2")
        .job.job_id
    )
    built.commands.cancel(project_b.id, second, "key:k2")
    yield built
    built.close()


def test_verify_passes_an_intact_log_and_prints_its_head(
    services: Services, database_url: str
) -> None:
    result = jobtrail(database_url, "verify")
    assert result.returncode == 0, result.stderr
    assert "Intact: 9 events." in result.stdout
    assert "Head: position 9, hash " in result.stdout
    report = json.loads(jobtrail(database_url, "verify", "--json").stdout)
    assert report["intact"] is True and report["head_position"] == 9
    anchored = jobtrail(database_url, "verify", "--anchor", f"9:{report['head_hash']}")
    assert anchored.returncode == 0


def test_verify_fails_a_tampered_log_naming_the_position(
    services: Services, database_url: str
) -> None:
    table = services.database.url.events_table
    column = "rowid" if services.database.backend == "sqlite" else "notification_id"
    with services.database.writer() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE {column} = 4"))
    result = jobtrail(database_url, "verify")
    assert result.returncode == 1
    assert "BROKEN at position 4" in result.stdout


def test_history_prints_a_timeline_and_the_job_as_it_was(
    services: Services, database_url: str
) -> None:
    result = jobtrail(database_url, "history", "1")
    assert result.returncode == 0, result.stderr
    for word in ("Scheduled", "Started", "Completed", "key:k1", "worker:w", "completed"):
        assert word in result.stdout
    as_json = json.loads(jobtrail(database_url, "history", "1", "--version", "2", "--json").stdout)
    assert [e["type"] for e in as_json["events"]] == ["Scheduled", "Started"]
    assert [e["statusAfter"] for e in as_json["events"]] == ["scheduled", "running"]
    assert as_json["job"]["status"] == "running"
    long_ago = jobtrail(database_url, "history", "1", "--at", "2001-01-01T00:00:00")
    assert long_ago.returncode == 1
    assert "did not exist yet" in long_ago.stderr
    now = datetime.now(UTC).isoformat()
    assert (
        json.loads(jobtrail(database_url, "history", "1", "--at", now, "--json").stdout)["job"][
            "status"
        ]
        == "completed"
    )
    assert jobtrail(database_url, "history", "99").returncode == 1


def test_audit_export_writes_every_event_with_its_chain_link(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "log.jsonl"
    result = jobtrail(database_url, "audit", "export", "--output", str(output))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["position"] for line in lines] == list(range(1, 10))
    for before, after in pairwise(lines):
        assert after["prevHash"] == before["hash"]
    assert (
        lines[-1]["hash"]
        == json.loads(jobtrail(database_url, "verify", "--json").stdout)["head_hash"]
    )
    project_a = services.tenancy.find_project(None)  # the oldest project
    assert project_a is not None and project_a.name == "a"
    only_a = jobtrail(database_url, "audit", "export", "--project", project_a.project_key)
    rows = [json.loads(line) for line in only_a.stdout.splitlines()]
    assert {row["jobId"] for row in rows} == {1}
    assert [row["type"] for row in rows] == ["Scheduled", "Started", "Completed"]
    future = jobtrail(database_url, "audit", "export", "--since", "2999-01-01")
    assert future.returncode == 0 and future.stdout == ""


def test_audit_replay_passes_then_names_a_row_changed_by_hand(
    services: Services, database_url: str
) -> None:
    services.projector.catch_up()
    clean = jobtrail(database_url, "audit", "replay")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "2 jobs replayed, 0 mismatches." in clean.stdout
    with services.database.writer() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == 2).values(status="completed"))
    dirty = jobtrail(database_url, "audit", "replay")
    assert dirty.returncode == 1
    assert "job 2: status is 'completed' in the read model, 'cancelled' in the log" in dirty.stdout

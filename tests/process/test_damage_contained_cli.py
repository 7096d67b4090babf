"""The operator's tools go on past a damaged record, name it, and exit 1: `jobtrail
forget` forgets every other due user, `history` shows what can be read, `projections
rebuild` marks the job and swaps the read model in (ADR 17). Run as an operator runs
them, for each way a stored row can be damaged."""

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest

from api.composition import Services, build_services
from domain.job import job_aggregate_id
from infrastructure.settings import Settings
from tests.damaging import (
    BROKEN_SEAL,
    DELETED_ROW,
    NULL_STATE,
    NULL_TOPIC,
    UNKNOWN_TOPIC,
    Damage,
    damage,
)
from tests.process.conftest import jobtrail
from tests.scheduling import SchedulingCommands

USERS = ("ann.51c0@example.com", "bob.8e2d@example.com", "cy.07fa@example.com")
KINDS = [
    Damage(NULL_TOPIC, 2),
    Damage(UNKNOWN_TOPIC, 2),
    Damage(DELETED_ROW, 2),
    Damage(BROKEN_SEAL, 1),
    Damage(NULL_STATE, 2),
]


@pytest.fixture
def victim(database_url: str, request: pytest.FixtureRequest) -> Iterator[int]:
    """Three users with a completed job each (three events); the second's is damaged."""
    done: Damage = request.param
    built: Services = build_services(
        Settings(database_url=database_url, deletion_delay=timedelta(0))
    )
    project = built.tenancy.create_project("shop")
    jobs = []
    for user in USERS:
        job_id = (
            SchedulingCommands.of(built)
            .schedule_user_deletion(project.id, user, "key:k")
            .job.job_id
        )
        started = built.commands.start(job_id, "worker:w")
        built.commands.complete(job_id, "worker:w", started.attempt, {"sessions": 0})
        jobs.append(job_id)
    damage(built, job_aggregate_id(jobs[1]), done)
    built.close()
    yield jobs[1]


def complaints(result: "subprocess.CompletedProcess[str]") -> list[str]:
    """Its lines on stderr, without the one naming the database; never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if not line.startswith("database:")]


@pytest.mark.parametrize("victim", KINDS, ids=str, indirect=True)
def test_forget_forgets_the_others_and_names_the_damaged_job(
    victim: int, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBTRAIL_FORGET_AFTER", "0")
    result = jobtrail(database_url, "forget")
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip() == "Forgot 2 users (2 jobs); destroyed 2 data keys."
    [line] = complaints(result)
    assert f"job {victim}:" in line and "damaged" in line
    assert not any(user in result.stdout + result.stderr for user in USERS)
    for user, forgotten in zip(USERS, (True, False, True), strict=True):
        proof = jobtrail(database_url, "audit", "prove", user, "--json")
        assert ('"forgotten": true' in proof.stdout) is forgotten, proof.stdout


@pytest.mark.parametrize("victim", KINDS, ids=str, indirect=True)
def test_history_shows_what_can_be_read_and_names_the_damage(
    victim: int, database_url: str
) -> None:
    result = jobtrail(database_url, "history", str(victim))
    assert result.returncode == 1
    [line] = complaints(result)
    assert f"Job {victim}'s record in the log is damaged" in line
    assert "DAMAGED" in result.stdout
    assert "Completed" in result.stdout  # the events that can be read are all there


@pytest.mark.parametrize("victim", KINDS, ids=str, indirect=True)
def test_a_rebuild_marks_the_damaged_job_and_swaps_the_read_model_in(
    victim: int, database_url: str
) -> None:
    result = jobtrail(database_url, "projections", "rebuild")
    assert result.returncode == 1
    assert "The new read model is live." in result.stdout
    assert any("Damaged event at position" in line for line in complaints(result))
    status = jobtrail(database_url, "projections", "status", "--json")
    [jobs] = [p for p in json.loads(status.stdout) if p["name"] == "jobs"]
    assert (jobs["state"], jobs["lag"]) == ("live", 0)

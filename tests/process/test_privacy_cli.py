"""`jobtrail forget` and `jobtrail audit prove`, run as an operator runs them."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from api.composition import Services, build_services
from infrastructure.settings import Settings
from tests.process.conftest import jobtrail
from tests.scheduling import SchedulingCommands

USER = "ann.4c2e@example.com"


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    project = built.tenancy.create_project("shop")
    job_id = (
        SchedulingCommands.of(built).schedule_user_deletion(project.id, USER, "key:k1").job.job_id
    )
    started = built.commands.start(job_id, "worker:w")
    built.commands.complete(job_id, "worker:w", started.attempt, {"sessions": 0})
    yield built
    built.close()


def project_key(services: Services) -> str:
    [project] = [p for p in services.tenancy.projects() if p.name == "shop"]
    return project.project_key


def test_forget_waits_for_the_configured_days_then_forgets_and_prints_only_counts(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = jobtrail(database_url, "forget")  # the default: 30 days
    assert waiting.returncode == 0, waiting.stderr
    assert waiting.stdout.strip() == "Forgot 0 users (0 jobs); destroyed 0 data keys."

    monkeypatch.setenv("JOBTRAIL_FORGET_AFTER", "0")
    forgot = jobtrail(database_url, "forget")
    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout.strip() == "Forgot 1 user (1 job); destroyed 1 data key."
    assert USER not in forgot.stdout + forgot.stderr
    again = jobtrail(database_url, "forget", "--json")
    assert json.loads(again.stdout) == {
        "users": 0,
        "jobs": 0,
        "keys": 0,
        "unsealed_jobs": 0,
        "damaged": [],
    }


def test_a_bad_forget_after_is_one_line_and_changes_nothing(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBTRAIL_FORGET_AFTER", "-1")
    result = jobtrail(database_url, "forget")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: JOBTRAIL_FORGET_AFTER must be 0 days or more."
    )
    monkeypatch.delenv("JOBTRAIL_FORGET_AFTER")
    proof = jobtrail(database_url, "audit", "prove", USER, "--json")
    assert json.loads(proof.stdout)[0]["forgotten"] is False


def test_prove_finds_the_users_jobs_before_and_after_forgetting(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = project_key(services)
    before = jobtrail(database_url, "audit", "prove", USER, "--project", key)
    assert before.returncode == 0, before.stderr
    assert "completed" in before.stdout and "(user forgotten)" not in before.stdout

    monkeypatch.setenv("JOBTRAIL_FORGET_AFTER", "0")
    jobtrail(database_url, "forget")

    after = jobtrail(database_url, "audit", "prove", USER, "--project", key)
    assert after.returncode == 0, after.stderr
    assert "completed" in after.stdout and "(user forgotten)" in after.stdout
    assert "deleted: sessions 0" in after.stdout
    [job] = json.loads(jobtrail(database_url, "audit", "prove", USER, "--json").stdout)
    assert (job["status"], job["referenceId"], job["forgotten"]) == (
        "completed",
        "[forgotten]",
        True,
    )
    assert job["receipt"] == {"sessions": 0}


def test_prove_refuses_a_stranger_and_a_bad_id_with_a_clear_line(
    services: Services, database_url: str
) -> None:
    stranger = jobtrail(database_url, "audit", "prove", "stranger@example.com")
    assert stranger.returncode == 1
    assert stranger.stdout == ""
    assert "No deletion job for this user id in any project." in stranger.stderr
    elsewhere = jobtrail(database_url, "audit", "prove", USER, "--project", "nope")
    assert elsewhere.returncode == 1 and "No project nope." in elsewhere.stderr
    empty = jobtrail(database_url, "audit", "prove", "")
    assert empty.returncode == 2 and "userId must not be empty." in empty.stderr

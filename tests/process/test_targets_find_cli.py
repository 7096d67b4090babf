"""`jobtrail targets find`, run as an operator runs it, on both backends: a line per
place the person remains, exit 1; after a job that covers every place, one line
and exit 0, kept on the job, and `jobtrail audit prove` shows it."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from api.composition import Services, build_services
from infrastructure.settings import Settings
from tests.process.conftest import jobtrail
from tests.remains_installation import (
    ALICE,
    ALICE_DEVICE,
    ALICE_SESSIONS,
    OTHER,
    WEB,
    Installation,
    installation,
)
from tests.scheduling import SchedulingCommands


@dataclass
class Operator:
    services: Services
    place: Installation
    project_key: str
    config: Path

    def targets(self, *, scrub_shared_text: bool) -> None:
        self.config.write_text(self.place.config(scrub_shared_text=scrub_shared_text))


@pytest.fixture
def operator(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Operator]:
    services = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    web, other = (services.tenancy.create_project(name) for name in ("web", "other"))
    assert (web.id, other.id) == (WEB, OTHER)
    config = tmp_path / "targets.toml"
    monkeypatch.setenv("JOBTRAIL_CONFIG", str(config))
    with installation(services.database.backend, tmp_path / "installation") as place:
        yield Operator(services, place, web.project_key, config)
    services.close()


def assert_names_no_id(output: str) -> None:
    for value in (ALICE, ALICE_DEVICE, *map(str, ALICE_SESSIONS)):
        assert value not in output


def test_find_prints_each_place_the_person_remains_and_exits_1(
    operator: Operator, database_url: str
) -> None:
    operator.targets(scrub_shared_text=False)

    found = jobtrail(database_url, "targets", "find", ALICE, "--project", operator.project_key)

    assert found.returncode == 1, found.stderr
    lines = found.stdout.splitlines()
    assert any(line.endswith("errors.message  2 rows  not covered by any target") for line in lines)
    assert "target  sessions  2 rows  covered by target sessions" in lines
    assert any(
        line.endswith("{sessionId}  2 files  covered by target recordings") for line in lines
    )
    assert "Not kept: this user has no ended deletion job" in found.stderr
    assert_names_no_id(found.stdout + found.stderr)

    as_json = jobtrail(
        database_url, "targets", "find", ALICE, "--project", operator.project_key, "--json"
    )
    record = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and record["nothingLeft"] is False
    assert record["keptOnJob"] is None and len(record["places"]) == len(lines)
    assert {"store", "location", "count", "unit", "coveredBy", "anyProject"} == set(
        record["places"][0]
    )


def test_after_a_job_nothing_is_found_and_audit_prove_shows_the_search(
    operator: Operator, database_url: str
) -> None:
    operator.targets(scrub_shared_text=True)
    job_id = (
        SchedulingCommands.of(operator.services)
        .schedule_user_deletion(WEB, ALICE, "key:k1")
        .job.job_id
    )
    worked = jobtrail(database_url, "worker", "--once")
    assert worked.returncode == 0, worked.stderr

    found = jobtrail(database_url, "targets", "find", ALICE, "--project", operator.project_key)

    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout == f"Nothing of this user left in project {operator.project_key}.\n"
    assert f"Kept on job {job_id} " in found.stderr
    proof = jobtrail(database_url, "audit", "prove", ALICE, "--project", operator.project_key)
    assert proof.returncode == 0, proof.stderr
    job_line, search_line = proof.stdout.splitlines()
    assert f"job {job_id} " in job_line and "completed" in job_line
    assert "remains searched" in search_line and "nothing left" in search_line
    history = jobtrail(database_url, "history", str(job_id))
    assert "RemainsSearched" in history.stdout

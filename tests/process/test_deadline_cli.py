"""`jobtrail jobs extend` and `jobtrail jobs overdue`, run as an operator runs them,
against jobs requested on an injected clock (days ago) and read at the real now."""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.composition import Services, build_services
from application.epoch import epoch_ms
from domain.deadline import LATEST, ONE_MONTH
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.clocks import SteppingClock
from tests.process.conftest import jobtrail
from tests.scheduling import SchedulingCommands


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    built.tenancy.create_project("shop")
    yield built
    built.close()


def requested(services: Services, user_id: str, days_ago: float, project: str = "shop") -> int:
    clock = SteppingClock(datetime.now(UTC) - timedelta(days=days_ago))
    commands = SchedulingCommands(services.log, SqlJobIdAllocator(services.database), clock, None)
    [found] = [p for p in services.tenancy.projects() if p.name == project]
    job_id = commands.schedule_user_deletion(found.id, user_id, "key:k").job.job_id
    services.projector.catch_up()
    return job_id


def completed(services: Services, job_id: int) -> None:
    started = services.commands.start(job_id, "worker:w")
    services.commands.complete(job_id, "worker:w", started.attempt, {"sessions": 0})


def test_extend_moves_the_deadline_to_the_laws_limit_and_keeps_the_reason(
    services: Services, database_url: str
) -> None:
    job_id = requested(services, "ann@example.com", days_ago=2)
    result = jobtrail(
        database_url, "jobs", "extend", str(job_id), "--reason", "Tickets are archived."
    )
    assert result.returncode == 0, result.stderr
    job = services.log.job(job_id)
    assert job is not None and job.respond_by == LATEST.after(job.created_on)
    assert result.stdout.startswith(f"Job {job_id} must now be answered by ")
    assert "Tell the person of the extension and why." in result.stdout
    assert "ann@example.com" not in result.stdout + result.stderr
    history = json.loads(jobtrail(database_url, "history", str(job_id), "--json").stdout)
    extension = history["events"][-1]
    assert extension["type"] == "DeadlineExtended"
    assert extension["data"]["reason"] == "Tickets are archived."
    assert extension["actor"].startswith("operator:")


def test_extend_by_a_period_prints_the_job_as_the_api_shows_it(
    services: Services, database_url: str
) -> None:
    job_id = requested(services, "bob", days_ago=1)
    result = jobtrail(
        database_url, "jobs", "extend", str(job_id), "--reason", "Backups.", "--by", "2 weeks",
        "--operator", "carol", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    job = services.log.job(job_id)
    assert job is not None
    assert shown["dueBy"] == epoch_ms(ONE_MONTH.after(job.created_on) + timedelta(days=14))
    assert shown["jobId"] == job_id


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        (["--reason", " "], "needs a reason"),
        (["--reason", "x", "--by", "3 months"], "the latest the law allows"),
    ],
)
def test_a_refused_extension_is_one_line_exit_1_and_records_nothing(
    services: Services, database_url: str, arguments: list[str], why: str
) -> None:
    job_id = requested(services, "dave", days_ago=1)
    head = services.log.head()
    result = jobtrail(database_url, "jobs", "extend", str(job_id), *arguments)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"Error: Job {job_id}'s deadline was not extended: ") and why in line
    assert services.log.head() == head


def test_a_completed_or_unknown_job_is_not_extended(services: Services, database_url: str) -> None:
    job_id = requested(services, "erin", days_ago=1)
    completed(services, job_id)
    answered = jobtrail(database_url, "jobs", "extend", str(job_id), "--reason", "x")
    assert answered.returncode == 1 and "is completed" in answered.stderr
    unknown = jobtrail(database_url, "jobs", "extend", "424242", "--reason", "x")
    assert unknown.returncode == 1 and "No job 424242." in unknown.stderr


@pytest.mark.parametrize(
    "arguments",
    [["--by", "soon"], ["--by", "1 month", "--until", "2030-01-01"], ["--until", "next week"]],
)
def test_extend_refuses_what_it_cannot_read_as_a_usage_error(
    services: Services, database_url: str, arguments: list[str]
) -> None:
    job_id = requested(services, "finn", days_ago=1)
    result = jobtrail(database_url, "jobs", "extend", str(job_id), "--reason", "x", *arguments)
    assert result.returncode == 2, result.stderr


def test_overdue_lists_the_late_and_the_soon_due_and_exits_1(
    services: Services, database_url: str
) -> None:
    late = requested(services, "gail@example.com", days_ago=40)
    soon = requested(services, "hal@example.com", days_ago=26)
    requested(services, "ivy@example.com", days_ago=0)  # a month to go: not listed
    completed(services, requested(services, "jon@example.com", days_ago=50))  # answered

    result = jobtrail(database_url, "jobs", "overdue")

    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    # (A month is 28 to 31 days: 40 days ago was due 9 to 12 days ago, 26 days ago is
    # due in 2 to 5 days.)
    assert re.fullmatch(
        rf"job {late}  project \S+  scheduled  .* overdue by 1?\d days( \d+ hours?)?", lines[0]
    )
    assert re.fullmatch(
        rf"job {soon}  project \S+  scheduled  .* due in \d days?( \d+ hours?)?", lines[1]
    )
    assert lines[2] == "1 job overdue, 1 due within 7 days."
    assert "@example.com" not in result.stdout + result.stderr

    listed = json.loads(jobtrail(database_url, "jobs", "overdue", "--json").stdout)
    assert [(job["jobId"], job["standing"]) for job in listed] == [
        (late, "overdue"),
        (soon, "due soon"),
    ]
    assert listed[0]["lateByMs"] > 9 * 86_400_000 and listed[1]["lateByMs"] < 0
    assert set(listed[0]) == {
        "jobId", "projectId", "projectKey", "status", "createdAt", "dueBy", "standing", "lateByMs",
    }  # fmt: skip
    only_late = json.loads(
        jobtrail(database_url, "jobs", "overdue", "--within", "0", "--json").stdout
    )
    assert [job["jobId"] for job in only_late] == [late]


def test_overdue_exits_0_when_nothing_is_late_even_if_something_is_due_soon(
    services: Services, database_url: str
) -> None:
    requested(services, "kim", days_ago=26)
    result = jobtrail(database_url, "jobs", "overdue")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 jobs overdue, 1 due within 7 days."
    other = jobtrail(database_url, "jobs", "overdue", "--project", "nope")
    assert other.returncode == 1 and "No project nope." in other.stderr

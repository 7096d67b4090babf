"""OpenReplay's own curl examples, run by a shell against a real `jobtrail serve`."""

import json
import shutil
import subprocess

import httpx2 as httpx
import pytest

from tests.process.conftest import RunningServer

DOC_PROJECT_KEY = "3sWXSsqHgSKnE87YkNJK"
DOC_HOST = "https://openreplay.example.com"
DOC_KEY = "{YOUR_ORGANIZATION_API_KEY}"

# The three request examples of OpenReplay's Jobs API page, with the shape it gives
# them: the method on the first line, the URL on the next, then the two headers.
# Its "Get job details" example has no space before the URL's line continuation,
# which glues "-H" onto the URL in a shell; that one space is added here.
EXAMPLES = {
    "List all jobs": f"""curl -X GET \\
{DOC_HOST}/api/v1/{DOC_PROJECT_KEY}/jobs \\
-H 'content-type: application/json' \\
-H 'Authorization: {DOC_KEY}'""",
    "Get job details": f"""curl -X GET \\
{DOC_HOST}/api/v1/{DOC_PROJECT_KEY}/jobs/3451 \\
-H 'content-type: application/json' \\
-H 'Authorization: {DOC_KEY}'""",
    "Cancel job": f"""curl -X DELETE \\
{DOC_HOST}/api/v1/{DOC_PROJECT_KEY}/jobs/3452 \\
-H 'content-type: application/json' \\
-H 'Authorization: {DOC_KEY}'""",
}
# The fields of a job in the page's example responses, and jobtrail's response
# deadline, which OpenReplay's clients ignore.
JOB_FIELDS = {
    "jobId", "description", "status", "projectId", "action", "referenceId",
    "createdAt", "updatedAt", "startAt", "errors", "dueBy",
}  # fmt: skip


def run(command: str, server: RunningServer, job_ids: dict[str, int]) -> object:
    command = command.replace(DOC_HOST, server.base_url)
    command = command.replace(DOC_PROJECT_KEY, server.project_key)
    command = command.replace(DOC_KEY, server.api_key)
    for doc_id, real_id in job_ids.items():
        command = command.replace(f"/jobs/{doc_id}", f"/jobs/{real_id}")
    result = subprocess.run(
        ["bash", "-c", command + " --silent --show-error --fail-with-body"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_openreplays_curl_examples_work_against_jobtrail(server: RunningServer) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    examples = dict(EXAMPLES)

    auth = {"Authorization": server.api_key}

    def schedule(user: str) -> int:
        response = httpx.delete(
            f"{server.base_url}/api/v1/{server.project_key}/users/{user}", headers=auth
        )
        assert response.status_code == 200, response.text
        job_id: int = response.json()["data"]["jobId"]
        return job_id

    ids = {"3451": schedule("mehdi@openreplay.com"), "3452": schedule("shekar@example.com")}

    cancelled = run(examples["Cancel job"], server, ids)
    assert isinstance(cancelled, dict)
    assert set(cancelled["data"]) == JOB_FIELDS
    assert cancelled["data"]["status"] == "cancelled"
    assert cancelled["data"]["jobId"] == ids["3452"]

    detail = run(examples["Get job details"], server, ids)
    assert isinstance(detail, dict)
    assert set(detail["data"]) == JOB_FIELDS
    assert detail["data"]["status"] == "scheduled"
    assert detail["data"]["referenceId"] == "mehdi@openreplay.com"

    listed = run(examples["List all jobs"], server, ids)
    assert isinstance(listed, dict)
    assert [set(job) for job in listed["data"]] == [JOB_FIELDS, JOB_FIELDS]
    assert {job["jobId"]: job["status"] for job in listed["data"]} == {
        ids["3451"]: "scheduled",
        ids["3452"]: "cancelled",
    }


def test_the_first_start_prints_a_key_a_project_and_a_working_curl_command(
    server: RunningServer,
) -> None:
    command = next(
        line.strip()
        for line in server.first_start_output.splitlines()
        if line.strip().startswith("curl ")
    )
    result = subprocess.run(
        ["bash", "-c", command + " --silent --fail-with-body"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"data": []}

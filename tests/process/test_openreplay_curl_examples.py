"""OpenReplay's own curl examples, run by a shell against a real `jobtrail serve`."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.process.conftest import RunningServer

REFERENCE = Path(__file__).resolve().parents[3] / "shared/reference/openreplay-jobs-api.txt"
DOC_PROJECT_KEY = "3sWXSsqHgSKnE87YkNJK"
DOC_HOST = "https://openreplay.example.com"
DOC_KEY = "{YOUR_ORGANIZATION_API_KEY}"


def reference_text() -> str:
    if not REFERENCE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"The OpenReplay reference is missing at {REFERENCE}")
        pytest.skip(f"The OpenReplay reference is not at {REFERENCE}")
    return REFERENCE.read_text()


def curl_examples(text: str) -> dict[str, str]:
    """Each 'Example Request' block of the document, by the section it belongs to."""
    examples: dict[str, str] = {}
    for section, command in re.findall(
        r"\n(List all jobs|Get job details|Cancel job)\n.*?Example Request\n\n(curl .*?)\n\n",
        text,
        flags=re.S,
    ):
        examples[section] = command
    return examples


def example_response(text: str, section: str) -> object:
    start = text.index(section)
    body = text[text.index("Example Response", start) + len("Example Response") :]
    following = re.search(r"\n(Get job details|Cancel job)\n", body)
    return json.loads(body[: following.start()] if following else body)


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
    text = reference_text()
    examples = curl_examples(text)
    assert set(examples) == {"List all jobs", "Get job details", "Cancel job"}
    # The document's "Get job details" example lacks the space before its line
    # continuation, which glues "-H" onto the URL; that one character is restored.
    examples["Get job details"] = examples["Get job details"].replace("/3451\\\n", "/3451 \\\n")

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
    expected_cancel = example_response(text, "Cancel job")
    assert isinstance(cancelled, dict) and isinstance(expected_cancel, dict)
    assert set(cancelled["data"]) == set(expected_cancel["data"])
    assert cancelled["data"]["status"] == "cancelled"
    assert cancelled["data"]["jobId"] == ids["3452"]

    detail = run(examples["Get job details"], server, ids)
    expected_detail = example_response(text, "Get job details")
    assert isinstance(detail, dict) and isinstance(expected_detail, dict)
    assert set(detail["data"]) == set(expected_detail["data"])
    assert detail["data"]["status"] == "scheduled"
    assert detail["data"]["referenceId"] == "mehdi@openreplay.com"

    listed = run(examples["List all jobs"], server, ids)
    expected_list = example_response(text, "List all jobs")
    assert isinstance(listed, dict) and isinstance(expected_list, dict)
    assert [set(job) for job in listed["data"]] == [set(job) for job in expected_list["data"]]
    assert {job["jobId"]: job["status"] for job in listed["data"]} == {
        ids["3451"]: "scheduled",
        ids["3452"]: "cancelled",
    }


def test_the_first_start_prints_a_key_a_project_and_a_working_curl_command(
    server: RunningServer,
) -> None:
    command = next(
        line.strip() for line in server.first_start_output.splitlines() if "curl" in line
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

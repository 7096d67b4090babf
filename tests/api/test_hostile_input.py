"""Hostile input: generated from the published schema, and the classics by hand.
No 5xx, no response outside the schema, and nothing changed by a refused request."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.process.conftest import RunningServer, start_server

pytestmark = pytest.mark.process  # it starts real jobtrail processes


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir: Path = tmp_path_factory.mktemp("hostile")
    server = start_server(f"sqlite:///{workdir / 'jobtrail.db'}", workdir)
    with httpx.Client() as http:
        base = f"{server.base_url}/api/v1/{server.project_key}"
        for user in ("alice@example.com", "bob"):
            http.delete(f"{base}/users/{user}", headers={"Authorization": server.api_key})
    yield server
    server.process.terminate()
    server.process.wait(timeout=15)


def _ok(result: Ok[Any] | Err[Any]) -> Any:
    assert isinstance(result, Ok), result
    return result.ok()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_never_break_the_server_or_the_schema(
    running: RunningServer, mode: GenerationMode
) -> None:
    api = schemathesis.openapi.from_url(f"{running.base_url}/openapi.json")
    operations = [_ok(result) for result in api.get_all_operations()]
    assert {operation.label for operation in operations} >= {
        "GET /api/v1/{projectKey}/jobs",
        "GET /api/v1/{projectKey}/jobs/{jobId}",
        "DELETE /api/v1/{projectKey}/jobs/{jobId}",
        "GET /api/v1/{projectKey}/jobs/{jobId}/events",
        "DELETE /api/v1/{projectKey}/users/{userId}",
        "GET /api/v1/{projectKey}/users/{userId}/sessions",
        "GET /healthz",
    }
    for operation in operations:
        fixed = {"projectKey": running.project_key} if "{projectKey}" in operation.path else None
        strategy = operation.as_strategy(mode, path_parameters=fixed)

        @given(case=strategy)
        # No example database: every operation's test shares this function's name, so a
        # saved example of one would be replayed against another's strategy (hypothesis
        # then stops with FlakyStrategyDefinition).
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def exercise(case: Case[Any]) -> None:
            response = case.call(
                base_url=running.base_url, headers={"Authorization": running.api_key}
            )
            case.validate_response(
                response, checks=[status_code_conformance, response_schema_conformance]
            )
            # 501 is OpenReplay's answer to cancelling a finished job: the only 5xx allowed.
            allowed_501 = case.operation.label == "DELETE /api/v1/{projectKey}/jobs/{jobId}"
            assert response.status_code < 500 or (response.status_code == 501 and allowed_501), (
                f"{response.status_code} {response.text[:300]} for {case.as_curl_command()}"
            )

        try:
            exercise()
        except Unsatisfiable:
            # Nothing in a request to these can be made invalid.
            assert mode is GenerationMode.NEGATIVE
            assert operation.label in ("GET /healthz", "GET /openapi.json")


def base(running: RunningServer) -> str:
    return f"{running.base_url}/api/v1/{running.project_key}"


def jobs_snapshot(running: RunningServer) -> list[object]:
    response = httpx.get(f"{base(running)}/jobs", headers={"Authorization": running.api_key})
    assert response.status_code == 200
    return response.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/users/" + "x" * 300, 400),
        ("/users/" + quote("名前🙂" * 90), 400),
        ("/users/%00", 400),
        ("/users/a%00b", 400),
        ("/users/%FF%FE", 400),
        ("/users/", 400),
    ],
)
def test_a_refused_user_id_changes_nothing(running: RunningServer, path: str, status: int) -> None:
    before = jobs_snapshot(running)
    response = httpx.delete(f"{base(running)}{path}", headers={"Authorization": running.api_key})
    assert response.status_code == status
    assert response.json()["errors"]
    assert jobs_snapshot(running) == before


@pytest.mark.parametrize(
    "user_id", ["../../etc/passwd", "'; DROP TABLE jobs; --", "%", "*", "😀" * 64, "a" * 256]
)
def test_awkward_but_valid_user_ids_are_accepted_verbatim(
    running: RunningServer, user_id: str
) -> None:
    response = httpx.delete(
        f"{base(running)}/users/{quote(user_id, safe='')}",
        headers={"Authorization": running.api_key},
    )
    assert response.status_code == 200
    assert response.json()["data"]["referenceId"] == user_id


@pytest.mark.parametrize(
    "job_id", ["-1", "0", "99999999999999999999999999", "1e3", "abc", "1%00", "%20", "9" * 5000]
)
def test_odd_job_ids_are_not_found(running: RunningServer, job_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = httpx.request(
            method, f"{base(running)}/jobs/{job_id}", headers={"Authorization": running.api_key}
        )
        assert response.status_code == 404
        assert response.json() == {"errors": ["Job not found."]}


def test_an_oversized_body_is_refused_with_413(running: RunningServer) -> None:
    before = jobs_snapshot(running)
    response = httpx.request(
        "DELETE",
        f"{base(running)}/users/big-body",
        headers={"Authorization": running.api_key, "content-type": "application/json"},
        content=b"{" + b" " * (1024 * 1024) + b"}",
    )
    assert response.status_code == 413
    assert response.json() == {"errors": ["Request body too large."]}
    assert jobs_snapshot(running) == before


def test_a_chunked_oversized_body_is_not_a_server_error(running: RunningServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"x" * 65536

    response = httpx.request(
        "DELETE",
        f"{base(running)}/users/chunked",
        headers={"Authorization": running.api_key},
        content=chunks(),
    )
    assert response.status_code < 500


@pytest.mark.parametrize(
    "content_type",
    ["text/xml", "application/x-www-form-urlencoded", "multipart/form-data", "nonsense"],
)
def test_wrong_content_types_are_harmless(running: RunningServer, content_type: str) -> None:
    response = httpx.get(
        f"{base(running)}/jobs",
        headers={"Authorization": running.api_key, "content-type": content_type},
    )
    assert response.status_code == 200


def test_an_enormous_authorization_header_is_refused_without_a_server_error(
    running: RunningServer,
) -> None:
    for size in (10_000, 200_000):
        try:
            response = httpx.get(f"{base(running)}/jobs", headers={"Authorization": "x" * size})
        except (httpx.RemoteProtocolError, httpx.ReadError):
            continue  # uvicorn dropped the connection on an over-limit header: fine
        assert response.status_code in (400, 401, 413, 431)
    assert httpx.get(f"{running.base_url}/healthz").status_code == 200


def test_a_malformed_content_length_is_a_400(running: RunningServer) -> None:
    import socket

    host, port = running.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"DELETE /api/v1/{running.project_key}/users/x HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {running.api_key}\r\nContent-Length: -5\r\n\r\n".encode()
        )
        reply = sock.recv(4096)
    assert reply.split(b" ")[1] in (b"400", b"413")

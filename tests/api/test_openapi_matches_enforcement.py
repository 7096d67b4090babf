"""The OpenAPI document promises what the server enforces, no more and no less.

Requests generated from the document (schemathesis) go to the app on both backends:
input the document allows is never refused for its form, and no answer falls outside
the document (a status it does not list, a body not of its schema, a server error).
A rule JSON Schema cannot express (two parameters that exclude each other) is stated
in the operation's description: a 400 for allowed input must quote one of those."""

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err, Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from api.composition import Services
from infrastructure.session_store import seed_sessions
from tests.conftest import Tenant

EXAMPLES = 25
"""Per operation, mode and backend: enough to meet the edges of each schema (hypothesis
tries the bounds first), few enough for the suite's time."""

NOT_DATA = {"/healthz", "/openapi.json"}


@pytest.fixture
def seeded(client: TestClient, tenant: Tenant, app_services: Services, tmp_path: Path) -> Tenant:
    """A project with jobs and sessions, so generated reads also find something."""
    for user in ("alice@example.com", "0", "1"):
        assert client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers).is_success
    seed_sessions(app_services.database, tenant.project.id, ["0", "alice@example.com"], 5, tmp_path)
    return tenant


def _ok(result: Ok[Any] | Err[Any]) -> Any:
    assert isinstance(result, Ok), result
    return result.ok()


def stated_rules(operation: dict[str, Any]) -> str:
    """What the operation's document says in words, beyond its schemas."""
    texts = [operation.get("description", "")]
    texts += [reply["description"] for reply in operation["responses"].values()]
    texts += [parameter.get("description", "") for parameter in operation.get("parameters", [])]
    return " ".join(str(text) for text in texts)


def exercise(
    client: TestClient,
    tenant: Tenant,
    operation: APIOperation[Any, Any, Any, Any],
    document: dict[str, Any],
    mode: GenerationMode,
) -> None:
    """Requests to ``operation`` generated in ``mode``, each answered as documented."""
    described = document["paths"][operation.path][operation.method.lower()]
    fixed = {"projectKey": tenant.project.project_key} if operation.path not in NOT_DATA else None

    @given(case=operation.as_strategy(mode, path_parameters=fixed))
    # No example database: every operation's test shares this function's name.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def answered_as_documented(case: Case[Any]) -> None:
        sent = case.as_transport_kwargs(base_url="http://testserver", headers=tenant.headers)
        response = client.request(
            sent["method"], sent["url"], params=sent["params"], headers=sent["headers"]
        )
        case.validate_response(
            response,
            checks=[status_code_conformance, response_schema_conformance, content_type_conformance],
        )
        where = f"{response.status_code} {response.text[:300]} for {case.as_curl_command()}"
        # 501 is OpenReplay's answer to cancelling a finished job: the only 5xx allowed.
        cancelling = operation.label == "DELETE /api/v1/{projectKey}/jobs/{jobId}"
        assert response.status_code < 500 or (response.status_code == 501 and cancelling), where
        if mode is GenerationMode.POSITIVE and response.status_code == 400:
            (message,) = response.json()["errors"]
            assert message in stated_rules(described), where

    try:
        answered_as_documented()
    except Unsatisfiable:
        # Nothing in a request to these can be made invalid.
        assert mode is GenerationMode.NEGATIVE
        assert operation.path in NOT_DATA


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_answer_to_a_generated_request_contradicts_the_document(
    client: TestClient, seeded: Tenant, mode: GenerationMode
) -> None:
    document = client.get("/openapi.json").json()
    api = schemathesis.openapi.from_dict(document)
    for operation in (_ok(result) for result in api.get_all_operations()):
        exercise(client, seeded, operation, document, mode)

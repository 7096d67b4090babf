"""The OpenAPI document is derived from the routes the app serves, so neither can
drift from the other."""

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from api.app import create_app
from api.documented import Operation, Parameter, Reply, documented
from api.openapi import UNDOCUMENTED, UndocumentedRoute, is_undocumented, openapi_document
from infrastructure.settings import Settings

SCHEMAS = "#/components/schemas/"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The real app; the document does not depend on the database behind it."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobtrail.db'}")
    with TestClient(create_app(settings, follow_projection=False, run_worker=False)) as test_client:
        yield test_client


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def app_of(client: TestClient) -> Starlette:
    app = client.app
    assert isinstance(app, Starlette)
    return app


def served_routes(routes: Sequence[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(path, method) of each route, HEAD aside: Starlette adds it to every GET."""
    served: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            inside = served_routes(route.routes, prefix + route.path)
            served |= inside or {(prefix + route.path, "*")}  # an ASGI app of its own
        elif isinstance(route, Route):
            methods = (route.methods or {"*"}) - {"HEAD"}
            served |= {(prefix + route.path_format, method.lower()) for method in methods}
        else:
            served.add((f"{prefix} {route!r}", "*"))
    return served


def operations_in(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def references_in(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from references_in(item)


def test_the_document_describes_exactly_the_routes_served_outside_the_undocumented_list(
    client: TestClient, document: dict[str, Any]
) -> None:
    served = served_routes(app_of(client).routes)
    documented_here = {(path, method) for path, method in served if not is_undocumented(path)}
    assert operations_in(document) == documented_here


def test_every_path_kept_out_of_the_document_is_still_served(client: TestClient) -> None:
    served_paths = {path for path, _ in served_routes(app_of(client).routes)}
    for kept_out in UNDOCUMENTED:
        under = kept_out.rstrip("/") + "/"
        covered = {path for path in served_paths if path == kept_out or path.startswith(under)}
        assert covered, f"{kept_out} is in UNDOCUMENTED but no longer served"


def test_every_reference_names_a_schema_of_the_document_and_every_schema_is_used(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    references = set(references_in(document))
    assert all(reference.startswith(SCHEMAS) for reference in references), references
    assert {reference.removeprefix(SCHEMAS) for reference in references} == set(schemas)


def test_every_operation_names_its_path_parameters_and_answers_with_described_statuses(
    document: dict[str, Any],
) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            in_path = {
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "path" and parameter["required"]
            }
            assert {f"{{{name}}}" for name in in_path} == {
                segment for segment in path.split("/") if segment.startswith("{")
            }, f"{method} {path}"
            assert operation["operationId"] and operation["summary"]
            assert all(reply["description"] for reply in operation["responses"].values())


def test_the_docs_page_shows_every_operation_that_is_served(
    client: TestClient, document: dict[str, Any]
) -> None:
    page = client.get("/docs").text
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert f'id="{operation["operationId"]}"' in page, f"{method} {path}"


def an_undocumented_handler(_: Request) -> Response:
    return Response()


@documented(
    Operation(
        "getThing",
        "A thing.",
        parameters=(Parameter("thingId", "path", int),),
        responses=(Reply(200, "The thing."),),
    )
)
def a_documented_handler(_: Request) -> Response:
    return Response()


def test_a_route_without_documentation_stops_the_document_from_being_built(
    client: TestClient,
) -> None:
    stray = Route("/api/v1/{projectKey}/secrets", an_undocumented_handler, methods=["GET"])
    with pytest.raises(UndocumentedRoute, match=re.escape("GET /api/v1/{projectKey}/secrets")):
        openapi_document([*app_of(client).routes, stray])


def test_an_app_mounted_without_routes_stops_the_document_from_being_built() -> None:
    opaque = Mount("/legacy", app=Response("an ASGI app of its own, routes unknown"))
    with pytest.raises(UndocumentedRoute, match="/legacy"):
        openapi_document([opaque])


def test_a_mounted_api_is_documented_under_its_mount_path() -> None:
    mounted = Mount("/v2", routes=[Route("/things/{thingId}", a_documented_handler)])
    assert set(openapi_document([mounted])["paths"]) == {"/v2/things/{thingId}"}


def test_an_operation_whose_path_parameters_differ_from_its_path_is_refused() -> None:
    wrong = Route("/things/{otherId}", a_documented_handler, methods=["GET"])
    with pytest.raises(UndocumentedRoute, match="otherId"):
        openapi_document([wrong])

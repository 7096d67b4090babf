"""A 405 names every method its path serves: the Allow header is the path's, not the
one route's that happened to match first. The paths come from the app's own routes."""

import re
from collections import defaultdict

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from api.resources import Resource, resource_table
from tests.conftest import Tenant

PROBED = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def methods_by_path(app: Starlette) -> dict[str, set[str]]:
    """Every routed path of the app, with every method some route serves on it (mounted
    apps, such as the stylesheet's, answer for themselves)."""
    served: dict[str, set[str]] = defaultdict(set)
    for route in app.routes:
        if isinstance(route, Route):
            assert route.methods, f"{route.path} takes every method"
            served[route.path_format] |= route.methods
    return served


def concrete(path: str, tenant: Tenant) -> str:
    """The path with a value for each of its parameters."""
    samples = {"projectKey": tenant.project.project_key, "jobId": "1"}
    return re.sub(r"\{(\w+)\}", lambda name: samples.get(name[1], "someone"), path)


def allowed(header: str) -> set[str]:
    return {method.strip() for method in header.split(",")}


def test_a_method_a_path_does_not_serve_gets_405_naming_every_method_it_does_serve(
    client: TestClient, tenant: Tenant
) -> None:
    assert isinstance(client.app, Starlette)
    for path, served in methods_by_path(client.app).items():
        url = concrete(path, tenant)
        for method in PROBED:
            response = client.request(method, url, headers=tenant.headers, follow_redirects=False)
            if method in served:
                assert response.status_code != 405, f"{method} {path}"
                continue
            assert response.status_code == 405, f"{method} {path}: {response.status_code}"
            assert allowed(response.headers["allow"]) == served, f"{method} {path}"
            if method != "HEAD":  # a HEAD's answer has no body
                assert response.json() == {"errors": ["Method Not Allowed"]}


async def answer(_: Request) -> Response:
    return Response()


def test_a_table_serving_one_path_from_two_resources_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("/things/{thingId}")):
        resource_table(
            [
                Resource("/things/{thingId}", {"GET": answer}),
                Resource("/things/{thingId}", {"DELETE": answer}),
            ]
        )

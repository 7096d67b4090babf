"""The OpenAPI document of jobtrail's HTTP API, derived from the app's route table.

Each route's operation is the one its handler was documented with (``api.documented``);
parameter schemas come from their Python types and body schemas from their msgspec
Structs. A route that is neither documented nor listed in UNDOCUMENTED is an error
when the document is built, that is, when the app is created.
"""

from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from typing import Any

import msgspec
from starlette.routing import BaseRoute, Mount, Route, compile_path

from api.documented import Operation, Parameter, Reply, operation_of
from api.resources import endpoint_of

_REF = "#/components/schemas/{name}"
_API_KEY_SCHEME = "OrganizationApiKey"

UNDOCUMENTED = {
    "/": "a signpost for people who open the server's address",
    "/docs": "this document, rendered as HTML",
    "/metrics": "Prometheus's text format, read by its scraper",
    "/ui": "the operators' dashboard: HTML pages and form posts",
    "/static": "the dashboard's stylesheet",
}
"""Paths served on purpose without being part of the API, with why. A path covers the
paths under it ("/ui" covers "/ui/login")."""


class UndocumentedRoute(Exception):
    """A route is served that the document cannot describe."""


def is_undocumented(path: str) -> bool:
    return any(path == kept or path.startswith(kept + "/") for kept in UNDOCUMENTED)


def served_operations(
    routes: Sequence[BaseRoute], prefix: str = ""
) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(path, method, endpoint) of every route outside UNDOCUMENTED, mounted apps
    entered. HEAD is left out: Starlette adds it to every GET by itself."""
    for route in routes:
        if isinstance(route, Route):
            path = prefix + route.path_format
            if is_undocumented(path):
                continue
            if route.methods is None:
                raise UndocumentedRoute(f"{path} takes every method: name the ones it serves.")
            for method in sorted(route.methods - {"HEAD"}):
                yield path, method.lower(), endpoint_of(route, method)
        elif isinstance(route, Mount):
            path = prefix + compile_path(route.path)[1]
            if is_undocumented(path):
                continue
            if not route.routes:
                raise UndocumentedRoute(f"The app mounted at {path} has no routes to document.")
            yield from served_operations(route.routes, path)
        else:
            raise UndocumentedRoute(f"{route!r} cannot be documented: add it to UNDOCUMENTED?")


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The document of the app's ``routes`` (those in UNDOCUMENTED left out)."""
    paths: dict[str, dict[str, Any]] = {}
    bodies: set[type[msgspec.Struct]] = set()
    for path, method, endpoint in served_operations(routes):
        operation = operation_of(endpoint)
        if operation is None:
            raise UndocumentedRoute(
                f"{method.upper()} {path} has no @documented operation and is not in UNDOCUMENTED."
            )
        _check_path_parameters(path, method, operation)
        if method in paths.setdefault(path, {}):
            raise UndocumentedRoute(f"{method.upper()} {path} is routed twice.")
        paths[path][method] = _operation(operation)
        bodies.update(reply.body for reply in operation.responses if reply.body is not None)
    _, schemas = msgspec.json.schema_components(
        sorted(bodies, key=lambda body: body.__name__), ref_template=_REF
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jobtrail",
            "version": "1.0.0",
            "description": "User-data deletion jobs, compatible with OpenReplay's v1 Jobs API.",
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                _API_KEY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The organization API key, raw or as 'Bearer <key>'.",
                }
            },
        },
        "paths": paths,
    }


def _check_path_parameters(path: str, method: str, operation: Operation) -> None:
    """A path parameter the operation forgets, or one not in its path, is a wrong
    document that a client generated from it would get wrong too."""
    in_path = set(compile_path(path)[2])
    declared = {parameter.name for parameter in operation.parameters if parameter.where == "path"}
    if in_path != declared:
        raise UndocumentedRoute(
            f"{method.upper()} {path} has path parameters {sorted(in_path)}, "
            f"but its operation declares {sorted(declared)}."
        )


def _operation(operation: Operation) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
    }
    if operation.description is not None:
        rendered["description"] = operation.description
    if operation.needs_api_key:
        rendered["security"] = [{_API_KEY_SCHEME: []}]
    if operation.parameters:
        rendered["parameters"] = [_parameter(parameter) for parameter in operation.parameters]
    rendered["responses"] = {str(reply.status): _reply(reply) for reply in operation.responses}
    return rendered


def _parameter(parameter: Parameter) -> dict[str, Any]:
    rendered: dict[str, Any] = {"name": parameter.name, "in": parameter.where}
    if parameter.where == "path":
        rendered["required"] = True  # OpenAPI demands it of every path parameter
    rendered["schema"] = _schema_of(parameter.of)
    if parameter.description is not None:
        rendered["description"] = parameter.description
    return rendered


def _schema_of(python_type: Any) -> dict[str, Any]:
    if isinstance(python_type, type) and issubclass(python_type, StrEnum):
        # Inline and in declaration order: msgspec would sort the values into a $defs.
        return {"type": "string", "enum": [member.value for member in python_type]}
    schema = msgspec.json.schema(python_type)
    if "$defs" in schema:
        raise UndocumentedRoute(f"A parameter of type {python_type!r} is not a plain value.")
    return schema


def _reply(reply: Reply) -> dict[str, Any]:
    if reply.body is None:
        return {"description": reply.description}
    schema = {"$ref": _REF.format(name=reply.body.__name__)}
    return {"description": reply.description, "content": {"application/json": {"schema": schema}}}

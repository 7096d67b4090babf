"""What a handler of the public API declares about itself for the OpenAPI document.

Each handler carries an :class:`Operation`, written next to its code with
``@documented(...)``. ``api.openapi`` reads it back from the route table, so a route
cannot be served without being described, and a description cannot outlive its route.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec

_ATTRIBUTE = "__openapi_operation__"


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter. ``of`` is its Python type, constraints included
    (``Annotated[int, msgspec.Meta(ge=1)]``, a ``StrEnum``): its schema is derived
    from that type, not written by hand."""

    name: str
    where: Literal["path", "query"]
    of: Any
    description: str | None = None


@dataclass(frozen=True)
class Reply:
    """One status an operation answers with; ``body`` is the JSON body's type."""

    status: int
    description: str
    body: type[msgspec.Struct] | None = None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    responses: tuple[Reply, ...]
    parameters: tuple[Parameter, ...] = ()
    description: str | None = None
    needs_api_key: bool = True


Handler = TypeVar("Handler", bound=Callable[..., Any])


def documented(operation: Operation) -> Callable[[Handler], Handler]:
    """Attaches ``operation`` to the handler, which is returned unchanged."""

    def attach(handler: Handler) -> Handler:
        setattr(handler, _ATTRIBUTE, operation)
        return handler

    return attach


def operation_of(endpoint: Callable[..., Any]) -> Operation | None:
    """The operation a route's endpoint was documented with. A wrapper made with
    ``functools.wraps`` (the app's deadline, say) is looked through."""
    handler = inspect.unwrap(endpoint, stop=lambda function: hasattr(function, _ATTRIBUTE))
    operation = getattr(handler, _ATTRIBUTE, None)
    return operation if isinstance(operation, Operation) else None

"""One route per path, serving each of its methods: what the router matches.

Starlette answers a method a route does not serve with 405 and that route's methods in
its Allow header. A path split over two routes (GET in one, DELETE in another) named
only the first one's methods: a :class:`Resource` holds every method of its path, so
its 405 names them all.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from api.convertors import matches_slashes, sent_path_ends_in_slash, sent_path_ends_with
from api.responses import errors

Endpoint = Callable[[Request], Awaitable[Response]]
"""Every endpoint is async (ADR 28): what blocks runs in a handler thread it asks for."""


class Resource(Route):
    """A path and the endpoint of each method it serves (HEAD answered as GET).

    A method it does not serve is answered 405 here, inside the route's middleware
    (the dashboard's headers reach it too), with every method of the path in Allow.

    When a parameter matches slashes (a user id may hold some), two things keep one
    path from meaning two resources:

    - a literal tail after such a parameter (``/sessions``) must be sent as such: the
      user ``a/sessions``, sent ``a%2Fsessions``, is not the sessions of user ``a``;
    - a resource whose path ends in such a parameter leaves the paths of the resources
      beneath it (:func:`resource_table`) to them, whatever the method: a DELETE of
      ``/users/a/sessions`` is the sessions' 405, not the deletion of user
      ``a/sessions``;
    - nor does it match a path sent with a slash after a non-empty parameter:
      ``/users/bob/`` is a 404, as ``/jobs/`` is (OpenReplay's ``{userId}`` holds no
      slash: there it means ``bob``), never the deletion of user ``bob/`` (``bob%2F``).
    """

    def __init__(
        self,
        path: str,
        endpoints: Mapping[str, Endpoint],
        *,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        self.endpoints = {method.upper(): endpoint for method, endpoint in endpoints.items()}
        if "GET" in self.endpoints:
            self.endpoints.setdefault("HEAD", self.endpoints["GET"])
        super().__init__(
            path, self._dispatch, methods=list(self.endpoints), name=path, middleware=middleware
        )
        self.allow = ", ".join(sorted(self.endpoints))
        tail = self.path_format.rsplit("}", 1)[-1]
        slashes = any(matches_slashes(convertor) for convertor in self.param_convertors.values())
        self._sent_tail = tail if slashes else ""
        self.ends_in_slashes = slashes and not tail
        self._last_param = list(self.param_convertors)[-1] if self.param_convertors else ""
        self._beneath: tuple[Resource, ...] = ()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.NONE:
            return match, child_scope
        if self._sent_tail and not sent_path_ends_with(scope, self._sent_tail):
            return Match.NONE, {}
        named = child_scope["path_params"].get(self._last_param)  # an empty one is its 400
        if self.ends_in_slashes and named and sent_path_ends_in_slash(scope):
            return Match.NONE, {}
        if any(below.matches(scope)[0] is not Match.NONE for below in self._beneath):
            return Match.NONE, {}
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)  # a 405 too: see _dispatch

    async def _dispatch(self, request: Request) -> Response:
        endpoint = self.endpoints.get(request.method)
        if endpoint is None:
            return errors(405, "Method Not Allowed", headers={"Allow": self.allow})
        return await endpoint(request)

    def leave_paths_to(self, beneath: Sequence["Resource"]) -> None:
        self._beneath = tuple(beneath)


def resource_table(resources: Sequence[Resource]) -> list[Resource]:
    """The resources, each path served by one of them: a resource whose path ends in a
    parameter that matches slashes leaves the paths under it to their own resources
    (``/users/{userId}`` leaves ``/users/{userId}/sessions``). Two resources of one
    path are an error: the router would name only the first one's methods in a 405."""
    paths = [resource.path_format for resource in resources]
    twice = sorted({path for path in paths if paths.count(path) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)}: one Resource per path, with all its methods.")
    for resource in resources:
        if resource.ends_in_slashes:
            prefix = resource.path + "/"
            resource.leave_paths_to([other for other in resources if other.path.startswith(prefix)])
    return list(resources)


def endpoint_of(route: Route, method: str) -> Callable[..., object]:
    """The endpoint that answers ``method`` on ``route`` (its documented handler)."""
    if isinstance(route, Resource):
        return route.endpoints[method.upper()]
    return route.endpoint

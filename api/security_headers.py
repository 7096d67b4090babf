"""Headers that tell a browser what it may do with a response.

Every answer says ``nosniff`` (``api.middleware.Observe`` adds it): a browser takes
it for what its Content-Type says, never for HTML or a script. The dashboard's pages
and redirects say more (:class:`DashboardHeaders`): no site may frame them (clickjacking: a page of
another site laying the dashboard, invisible, under a decoy button), and they load
nothing but the server's own stylesheet.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")

DASHBOARD_POLICY = "; ".join(
    [
        "default-src 'none'",  # no script, no frame, no font, no connection
        "style-src 'self'",  # /static/jobtrail.css
        "img-src 'self'",
        "form-action 'self'",  # sign in, sign out, the jobs' filters
        "frame-ancestors 'none'",  # framed by no page, this server's included
        "base-uri 'none'",
    ]
)
DASHBOARD_HEADERS = [
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP 2
    (b"content-security-policy", DASHBOARD_POLICY.encode()),
    (b"referrer-policy", b"same-origin"),  # a project's key is in the dashboard's URLs
]


class DashboardHeaders:
    """Route middleware of the dashboard's routes: :data:`DASHBOARD_HEADERS` on each
    of their responses, pages, redirects and refusals alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                named = {name for name, _ in message.get("headers", [])}
                added = [header for header in DASHBOARD_HEADERS if header[0] not in named]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, with_headers)

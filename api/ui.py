"""A read-only dashboard for operators: server-rendered HTML, no script.

Sign in with an organization API key. The login lives on the server (a row that
names the key, never its secret) and the cookie carries only its signed id, so
signing out, or revoking the key, ends it for every copy of the cookie. It lasts
eight hours. Form posts from another site are refused (CSRF). The cookie is Secure
whenever the browser reached us over https, also behind a proxy that terminates TLS.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from api.composition import Services
from api.deadline_chart import SOON_DAYS, deadline_chart
from api.handler_threads import in_thread
from api.in_time import answered_in_time
from api.resources import Resource
from api.security_headers import DashboardHeaders
from application.deadlines import deadline_entry
from application.errors import DamagedRecord, JobNotFound
from application.tenancy import DASHBOARD_LOGIN_MS
from application.tenants import Principal, Project
from domain.lifecycle import JobStatus
from domain.request import has_control_characters

# The cookie keeps its first name, so browsers signed in before a deploy stay signed in.
COOKIE = "jobtrail_session"
LOGIN_SECONDS = DASHBOARD_LOGIN_MS // 1000
PAGE_SIZE = 50
STATUSES = [status.value for status in JobStatus]
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["when"] = _when


def _digits(text: str) -> bool:
    """ASCII digits only: ``"²".isdigit()`` is true, and ``int("²")`` raises."""
    return text.isascii() and text.isdigit()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _signer(request: Request) -> URLSafeTimedSerializer:
    signer: URLSafeTimedSerializer = request.app.state.login_signer
    return signer


def _login_id(request: Request) -> str | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    try:
        login_id = _signer(request).loads(cookie, max_age=LOGIN_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    return login_id if isinstance(login_id, str) else None


_UNREAD = object()


async def _principal(request: Request) -> Principal | None:
    """The signed-in principal: the login must still be open on the server (not
    signed out) and its key still usable (not revoked, not past its rotation). Read
    once per request: the page's frame asks again after the handler has."""
    known = getattr(request.state, "principal", _UNREAD)
    if known is None or isinstance(known, Principal):
        return known
    login_id = _login_id(request)
    principal = None
    if login_id is not None:
        principal = await _services(request).tenancy.dashboard_login(login_id)
    if principal is not None:
        request.state.key_id = principal.key_id
    request.state.principal = principal
    return principal


def _same_origin(request: Request) -> bool:
    """A form post from a page of this server, not from another site (CSRF): browsers
    send Origin on every POST, and Referer where a privacy setting drops it."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True  # not a browser: no ambient cookie to abuse
    # Hosts, not schemes: behind a proxy that terminates TLS the browser says https
    # and the server sees http. The proxy must pass the Host (or X-Forwarded-Host).
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(source).netloc in hosts - {None}


def _over_https(request: Request) -> bool:
    """Whether the browser reached this server over https. Behind a proxy that
    terminates TLS the request here is http, but the browser's page says https in the
    Origin it sends on every form post (or the Referer), and ``--proxy-headers`` makes
    the proxy's X-Forwarded-Proto the request's scheme. A plain-http dashboard on this
    machine (``make serve``) says http in all of them."""
    if request.url.scheme == "https":
        return True
    sources = (request.headers.get("origin"), request.headers.get("referer"))
    return any(source and urlsplit(source).scheme == "https" for source in sources)


def _cookie_attributes(request: Request) -> dict[str, Any]:
    """The login cookie's attributes, the same when it is set and when it is cleared:
    Secure whenever the browser speaks https to us, so it never travels in the clear."""
    return {"path": "/", "httponly": True, "samesite": "strict", "secure": _over_https(request)}


async def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    if "signed_in" not in context:
        context["signed_in"] = await _principal(request) is not None
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


async def home(request: Request) -> Response:
    principal = await _principal(request)
    if principal is None:
        return await _page(request, "login.html", signed_in=False)
    projects = await _services(request).tenancy.projects_of(principal)
    return await _page(request, "projects.html", projects=projects, key_id=principal.key_id)


async def _cross_site(request: Request) -> Response:
    return await _page(
        request, "login.html", 403, signed_in=False, error="Sign in from this site's own page."
    )


async def sign_in(request: Request) -> Response:
    if not _same_origin(request):
        return await _cross_site(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    api_key = (form.get("api_key") or [""])[0]
    tenancy = _services(request).tenancy
    principal = await tenancy.authenticate(api_key)
    if principal is None:
        return await _page(
            request, "login.html", 401, signed_in=False, error="That key is not valid."
        )
    login_id = await in_thread(request, tenancy.start_dashboard_login, principal)
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        COOKIE,
        _signer(request).dumps(login_id),
        max_age=LOGIN_SECONDS,
        **_cookie_attributes(request),
    )
    return response


async def sign_out(request: Request) -> Response:
    if not _same_origin(request):
        return await _cross_site(request)
    login_id = _login_id(request)
    if login_id is not None:
        await in_thread(request, _services(request).tenancy.end_dashboard_login, login_id)
    response = RedirectResponse("/ui", status_code=303)
    response.delete_cookie(COOKIE, **_cookie_attributes(request))
    return response


async def _project(request: Request) -> tuple[Principal, Project] | Response:
    principal = await _principal(request)
    if principal is None:
        return RedirectResponse("/ui", status_code=303)
    tenancy = _services(request).tenancy
    project = await tenancy.project_for(principal, request.path_params["projectKey"])
    if project is None:
        return await _page(
            request, "not_found.html", 404, message="No such project in your organization."
        )
    return principal, project


async def jobs(request: Request) -> Response:
    found = await _project(request)
    if isinstance(found, Response):
        return found
    _, project = found
    status = request.query_params.get("status") or None
    status = status if status in STATUSES else None
    user = (request.query_params.get("user") or "").strip()[:256] or None
    if user is not None and has_control_characters(user):
        return await _page(
            request, "not_found.html", 400, message="A user id has no control characters."
        )
    raw_page = request.query_params.get("page", "1")
    page = int(raw_page) if _digits(raw_page) and 0 < int(raw_page) < 10**6 else 1
    services = _services(request)
    rows = await services.queries.page(project.id, status, PAGE_SIZE + 1, page, user)
    now = services.clock.now()
    owing = await services.queries.owing(project.id, now)

    def query(target: int) -> str:
        return urlencode(
            {k: v for k, v in (("status", status), ("user", user), ("page", target)) if v}
        )

    return await _page(
        request,
        "jobs.html",
        project=project,
        jobs=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        status=status,
        user=user,
        statuses=STATUSES,
        query=query,
        chart=deadline_chart(owing, rows[:PAGE_SIZE], now),
        standings={job.job_id: deadline_entry(job, now).standing for job in rows},
        soon_days=SOON_DAYS,
    )


async def job(request: Request) -> Response:
    found = await _project(request)
    if isinstance(found, Response):
        return found
    _, project = found
    raw = request.path_params["jobId"]
    services = _services(request)
    try:
        job_id = int(raw) if _digits(raw) and len(raw) < 19 else 0
        view = await services.queries.get(project.id, job_id)
        # The job's story is read from the log, by eventsourcing, in a thread.
        history = services.history
        timeline, (deleted, unconfirmed) = await in_thread(
            request,
            lambda: (
                history.timeline(project.id, job_id),
                history.receipt_in_full(project.id, job_id),
            ),
        )
    except JobNotFound:
        return await _page(request, "not_found.html", 404, message="No such job in this project.")
    except DamagedRecord:
        return await _page(
            request,
            "not_found.html",
            409,
            message="This job's record in the event log is damaged; `jobtrail verify` names it.",
        )
    return await _page(
        request,
        "job.html",
        project=project,
        job=view,
        status=JobStatus(view.status),
        timeline=timeline,
        deleted=deleted,
        unconfirmed=unconfirmed,
    )


def _describe(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_describe(option) for option in schema["anyOf"])
    kind = str(schema.get("type", ""))
    if kind == "array":
        return f"list of {_describe(schema.get('items'))}"
    limits = [
        f"{k} {schema[k]}" for k in ("minimum", "maximum", "minLength", "maxLength") if k in schema
    ]
    if "enum" in schema:
        limits.append("one of " + ", ".join(map(str, schema["enum"])))
    return kind + (f" ({'; '.join(limits)})" if limits else "")


def _body_of(response: dict[str, Any]) -> str:
    content = response.get("content", {}).get("application/json")
    return _describe(content.get("schema")) if content else "-"


async def api_docs(request: Request) -> Response:
    """The document the app serves at /openapi.json, as a page."""
    document = request.app.state.openapi
    return await _page(request, "docs.html", doc=document, describe=_describe, body_of=_body_of)


_HEADERS = [Middleware(DashboardHeaders)]  # on each answer, its 405s included
routes = [
    Resource("/docs", {"GET": api_docs}, middleware=_HEADERS),
    *(
        Resource(path, {method: answered_in_time(handler)}, middleware=_HEADERS)
        for path, method, handler in (
            ("/ui", "GET", home),
            ("/ui/login", "POST", sign_in),
            ("/ui/logout", "POST", sign_out),
            ("/ui/projects/{projectKey}", "GET", jobs),
            ("/ui/projects/{projectKey}/jobs/{jobId}", "GET", job),
        )
    ),
]

"""The dashboard's login cookie is Secure whenever the browser reached jobtrail over
https, also behind a proxy that terminates TLS and speaks plain http to jobtrail; and
it stays usable on a plain-http dashboard on localhost (``make serve``)."""

from collections.abc import Iterator

import pytest
from httpx2 import Response
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.app import create_app
from api.ui import COOKIE
from infrastructure.settings import Settings
from tests.conftest import Tenant, new_tenant

BEHIND_THE_PROXY = "https://testserver"
"""What the browser shows; jobtrail itself is reached at http://testserver."""
LOCAL = "http://localhost:8000"


def attributes(response: Response) -> dict[str, str]:
    """The login cookie's Set-Cookie attributes, by lower-case name."""
    (header,) = [
        value for value in response.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}=")
    ]
    _, *pairs = header.split(";")
    found = {}
    for pair in pairs:
        name, _, value = pair.strip().partition("=")
        found[name.lower()] = value
    return found


def login(client: TestClient, tenant: Tenant, **headers: str) -> Response:
    response = client.post(
        "/ui/login",
        data={"api_key": tenant.key.api_key},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


def signed_in_with(client: TestClient, cookie: str) -> bool:
    page = client.get("/ui", headers={"cookie": f"{COOKIE}={cookie}"})
    return 'name="api_key"' not in page.text


def test_a_login_from_an_https_page_gets_a_secure_cookie_though_jobtrail_is_reached_over_http(
    client: TestClient, tenant: Tenant
) -> None:
    response = login(client, tenant, origin=BEHIND_THE_PROXY)
    assert "secure" in attributes(response)


def test_a_login_whose_referer_alone_is_https_gets_a_secure_cookie(
    client: TestClient, tenant: Tenant
) -> None:
    response = login(client, tenant, referer=f"{BEHIND_THE_PROXY}/ui")
    assert "secure" in attributes(response)


@pytest.fixture
def behind_uvicorns_proxy_headers(settings: Settings) -> Iterator[tuple[TestClient, Tenant]]:
    """jobtrail as ``uvicorn --proxy-headers`` runs it, trusting the proxy in front."""
    app = create_app(settings, follow_projection=False, run_worker=False)
    # uvicorn and Starlette spell the ASGI types each their own way; both are ASGI.
    proxy_headers = ProxyHeadersMiddleware(app, trusted_hosts="*")  # type: ignore[arg-type]
    with TestClient(proxy_headers) as proxied:  # type: ignore[arg-type]
        yield proxied, new_tenant(app.state.services)


def test_a_login_forwarded_as_https_by_the_proxy_gets_a_secure_cookie(
    behind_uvicorns_proxy_headers: tuple[TestClient, Tenant],
) -> None:
    proxied, tenant = behind_uvicorns_proxy_headers
    response = login(proxied, tenant, **{"x-forwarded-proto": "https"})
    assert "secure" in attributes(response)


@pytest.fixture
def on_localhost(client: TestClient) -> TestClient:
    """The dashboard as ``make serve`` shows it: plain http on this machine."""
    client.base_url = LOCAL
    return client


def test_a_plain_http_dashboard_on_localhost_signs_in_with_a_cookie_that_is_not_secure(
    on_localhost: TestClient, tenant: Tenant
) -> None:
    local = on_localhost
    response = login(local, tenant, origin=LOCAL)
    cookie = attributes(response)
    assert "secure" not in cookie
    assert "httponly" in cookie and cookie["samesite"].lower() == "strict"
    assert 'name="api_key"' not in local.get("/ui").text  # the browser sends it back


def test_signing_out_over_https_clears_the_cookie_with_the_attributes_it_was_set_with(
    client: TestClient, tenant: Tenant
) -> None:
    signed_in = login(client, tenant, origin=BEHIND_THE_PROXY)
    cookie = signed_in.cookies[COOKIE]
    assert signed_in_with(client, cookie)
    signed_out = client.post(
        "/ui/logout",
        headers={"origin": BEHIND_THE_PROXY, "cookie": f"{COOKIE}={cookie}"},
        follow_redirects=False,
    )
    assert signed_out.status_code == 303
    set_and_cleared = attributes(signed_in), attributes(signed_out)
    assert set_and_cleared[1]["max-age"] == "0"
    for name in ("secure", "httponly", "samesite", "path"):
        assert set_and_cleared[1].get(name) == set_and_cleared[0].get(name), name
    assert not signed_in_with(client, cookie)


def test_signing_out_of_a_plain_http_dashboard_clears_a_cookie_that_is_not_secure(
    on_localhost: TestClient, tenant: Tenant
) -> None:
    local = on_localhost
    login(local, tenant, origin=LOCAL)
    cleared = attributes(
        local.post("/ui/logout", headers={"origin": LOCAL}, follow_redirects=False)
    )
    assert "secure" not in cleared and cleared["max-age"] == "0"
    assert 'name="api_key"' in local.get("/ui").text

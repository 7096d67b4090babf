"""What a client sends cannot grow /metrics: request series are labelled by the route
the app knows and by the standard methods, so made-up methods and unmatched paths add
no series (nor the memory each costs the process)."""

from starlette.testclient import TestClient

from tests.conftest import Tenant

KNOWN = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MANY = 60


def request_series(client: TestClient) -> set[str]:
    """Every request series in /metrics, by its name and labels (the value left off)."""
    text = client.get("/metrics").text
    return {
        line.rsplit(" ", 1)[0]
        for line in text.splitlines()
        if line.startswith("jobtrail_http_request")
    }


def test_made_up_methods_are_all_counted_as_other_and_add_no_series(
    client: TestClient, tenant: Tenant
) -> None:
    def made_up(method: str) -> None:
        client.request(method, tenant.url("/jobs"), headers=tenant.headers)  # a route
        client.request(method, "/metrics")  # a route of GET only
        client.request(method, "/no/such/path")  # no route

    made_up("FOO")
    request_series(client)  # the scrape's own series
    before = request_series(client)
    for n in range(MANY):
        made_up(f"BAR{n}")
    after = request_series(client)
    assert after == before, f"{len(after) - len(before)} series more"
    assert any('method="OTHER"' in series for series in after)
    assert not any("FOO" in series or "BAR" in series for series in after)


def test_the_standard_methods_keep_their_own_labels(client: TestClient, tenant: Tenant) -> None:
    for method in KNOWN:
        client.request(method, tenant.url("/jobs"), headers=tenant.headers)
    series = request_series(client)
    for method in KNOWN:
        assert any(f'method="{method}"' in line for line in series), method


def test_unmatched_paths_are_one_unrouted_label_and_a_routes_paths_its_template(
    client: TestClient, tenant: Tenant
) -> None:
    """Bounded before made-up methods were: the label is the route's template, or
    ``<unrouted>``, never the path a client sent."""

    def paths(n: int) -> None:
        client.get(f"/no/such/path/{n}")
        client.delete(f"/nothing-{n}")
        client.get(f"/static/missing-{n}.css")
        client.get(tenant.url(f"/users/someone-{n}/sessions"), headers=tenant.headers)
        client.get(tenant.url(f"/jobs/{n + 10**6}"), headers=tenant.headers)

    paths(0)
    request_series(client)
    before = request_series(client)
    for n in range(1, MANY):
        paths(n)
    after = request_series(client)
    assert after == before, f"{len(after) - len(before)} series more"
    assert any('route="<unrouted>"' in series for series in after)
    assert not any("no/such" in series or "someone-" in series for series in after)

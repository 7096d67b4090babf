"""GET /users/{userId}/sessions: a user's data, in OpenReplay's v1 shape."""

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.composition import Services
from infrastructure.session_store import seed_sessions
from tests.conftest import Tenant

SESSION_FIELDS = {
    "projectId",
    "sessionId",
    "userUuid",
    "userId",
    "userAgent",
    "userOs",
    "userBrowser",
    "userDevice",
    "userCountry",
    "startTs",
    "duration",
    "eventsCount",
    "pagesCount",
    "errorsCount",
}


@pytest.fixture
def seeded(app_services: Services, tenant: Tenant, tmp_path: Path) -> Tenant:
    seed_sessions(
        app_services.database, tenant.project.id, ["mickael@openreplay.com", "x"], 60, tmp_path
    )
    seed_sessions(
        app_services.database, tenant.project.id + 1000, ["mickael@openreplay.com"], 5, tmp_path
    )
    return tenant


def test_a_users_sessions_are_listed_newest_first_in_openreplays_shape(
    client: TestClient, seeded: Tenant
) -> None:
    response = client.get(
        seeded.url("/users/mickael@openreplay.com/sessions"), headers=seeded.headers
    )
    assert response.status_code == 200
    found = response.json()["data"]
    assert len(found) == 50  # OpenReplay's page size
    assert set(found[0]) == SESSION_FIELDS
    assert isinstance(found[0]["sessionId"], str)
    assert {s["userId"] for s in found} == {"mickael@openreplay.com"}
    assert {s["projectId"] for s in found} == {seeded.project.id}
    starts = [s["startTs"] for s in found]
    assert starts == sorted(starts, reverse=True)


def test_sessions_page_and_filter_by_start_time(client: TestClient, seeded: Tenant) -> None:
    url = seeded.url("/users/mickael@openreplay.com/sessions")
    every = client.get(f"{url}?limit=200", headers=seeded.headers).json()["data"]
    assert len(every) == 60
    second = client.get(f"{url}?limit=50&page=2", headers=seeded.headers).json()["data"]
    assert second == every[50:]
    middle = every[30]["startTs"]
    window = client.get(f"{url}?limit=200&start_date={middle}", headers=seeded.headers).json()[
        "data"
    ]
    assert window == every[:31]
    before = client.get(f"{url}?limit=200&end_date={middle - 1}", headers=seeded.headers).json()[
        "data"
    ]
    assert before == every[31:]


@pytest.mark.parametrize(
    "query", ["limit=0", "start_date=x", "end_date=-3", "start_date=5&end_date=4"]
)
def test_a_bad_sessions_query_returns_400(client: TestClient, seeded: Tenant, query: str) -> None:
    response = client.get(seeded.url(f"/users/x/sessions?{query}"), headers=seeded.headers)
    assert response.status_code == 400


def test_an_unknown_user_has_no_sessions(client: TestClient, seeded: Tenant) -> None:
    response = client.get(seeded.url("/users/nobody/sessions"), headers=seeded.headers)
    assert response.json() == {"data": []}


def test_sessions_need_a_valid_key(client: TestClient, seeded: Tenant) -> None:
    response = client.get(seeded.url("/users/x/sessions"))
    assert response.status_code == 401

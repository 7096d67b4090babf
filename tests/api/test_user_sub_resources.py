"""A user id may hold slashes, so ``/users/{userId}/sessions`` could also read as the
user ``…/sessions``. The rule: a path whose last segment, as sent, is ``sessions`` is
that user's sessions resource, and only GET serves it; a DELETE there answers 405 and
schedules nothing. A user whose id ends in ``/sessions`` is named with that slash
encoded (``%2F``), as ``quote(user_id, safe="")`` writes every id."""

from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from tests.conftest import Tenant


def jobs_of(client: TestClient, tenant: Tenant) -> list[object]:
    response = client.get(tenant.url("/jobs"), headers=tenant.headers)
    assert response.status_code == 200
    listed: list[object] = response.json()["data"]
    return listed


@pytest.mark.parametrize(
    "path",
    [
        "/users/0/sessions",
        "/users/someone@example.com/sessions",
        "/users/a/b/sessions",
        "/users//sessions",
        "/users/0/%73essions",  # the same segment, spelt with an escape
    ],
)
def test_a_delete_on_a_users_sessions_is_refused_and_schedules_nothing(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    response = client.delete(tenant.url(path), headers=tenant.headers)
    assert response.status_code == 405
    assert {method.strip() for method in response.headers["allow"].split(",")} == {"GET", "HEAD"}
    assert jobs_of(client, tenant) == []


def test_a_user_whose_id_ends_in_sessions_is_named_with_its_slash_encoded(
    client: TestClient, tenant: Tenant
) -> None:
    user_id = "0/sessions"
    user = tenant.url(f"/users/{quote(user_id, safe='')}")
    scheduled = client.delete(user, headers=tenant.headers)
    assert scheduled.status_code == 200
    assert scheduled.json()["data"]["referenceId"] == user_id
    listed = client.get(f"{user}/sessions", headers=tenant.headers)
    assert listed.status_code == 200 and listed.json() == {"data": []}
    assert client.get(user, headers=tenant.headers).status_code == 405  # the user, not sessions


def test_slashes_in_a_user_id_still_work_unencoded_where_nothing_else_is_meant(
    client: TestClient, tenant: Tenant
) -> None:
    scheduled = client.delete(tenant.url("/users/team/alice"), headers=tenant.headers)
    assert scheduled.status_code == 200
    assert scheduled.json()["data"]["referenceId"] == "team/alice"
    listed = client.get(tenant.url("/users/team/alice/sessions"), headers=tenant.headers)
    assert listed.status_code == 200


@pytest.mark.parametrize("path", ["/users/bob/", "/users/team/alice/", "/users/bob/sessions/"])
def test_a_user_path_sent_with_a_trailing_slash_is_a_json_404_that_schedules_nothing(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    # OpenReplay's {userId} holds no slash: its router answers "/users/bob/" with a
    # redirect to "/users/bob" (api/routers/subs/v1_api.py on FastAPI), never with
    # the deletion of a user "bob/"; jobtrail answers a trailing slash 404, as on "/jobs/".
    response = client.delete(tenant.url(path), headers=tenant.headers, follow_redirects=False)
    assert response.status_code == 404
    assert response.json() == {"errors": ["Not Found"]}
    assert jobs_of(client, tenant) == []
    encoded = client.delete(tenant.url("/users/bob%2F"), headers=tenant.headers)
    assert encoded.status_code == 200 and encoded.json()["data"]["referenceId"] == "bob/"

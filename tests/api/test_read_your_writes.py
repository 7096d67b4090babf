"""Read-your-writes holds for every answer of a scheduling request, also when the
answer is a job that another request made a moment before (issue 25, finding 3)."""

import threading

from starlette.testclient import TestClient

from tests.conftest import Tenant


def request_read_and_cancel(
    client: TestClient, tenant: Tenant, user: str, at_once: int
) -> list[str]:
    """``at_once`` threads each schedule the user's deletion, then read and cancel the
    job they were answered with; returns what went wrong."""
    failures: list[str] = []
    start = threading.Barrier(at_once)

    def one_client() -> None:
        start.wait()
        scheduled = client.delete(tenant.url(f"/users/{user}"), headers=tenant.headers)
        if scheduled.status_code != 200:
            failures.append(f"schedule: {scheduled.status_code} {scheduled.text}")
            return
        job_id: int = scheduled.json()["data"]["jobId"]
        # The job in the answer is in the read model already, whichever request
        # made it: the client may read it back, and cancel it, at once.
        read = client.get(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
        if read.status_code != 200:
            failures.append(f"read {job_id}: {read.status_code} {read.text}")
        cancel = client.delete(tenant.url(f"/jobs/{job_id}"), headers=tenant.headers)
        if cancel.status_code not in (200, 501):  # 501: another thread cancelled it
            failures.append(f"cancel {job_id}: {cancel.status_code} {cancel.text}")

    threads = [threading.Thread(target=one_client) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_every_answer_to_a_repeated_request_can_be_read_and_cancelled_at_once(
    client: TestClient, tenant: Tenant, soak: int
) -> None:
    for round_number in range(10 * soak):
        user = f"same-{round_number}@example.com"
        assert request_read_and_cancel(client, tenant, user, at_once=6) == []

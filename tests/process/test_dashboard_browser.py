"""The dashboard in a real headless browser (Debian's chromium, driven by Playwright):
sign in with a key, list jobs, filter, open a job, read its timeline."""

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from api.composition import build_services
from infrastructure.session_store import seed_sessions
from infrastructure.settings import Settings
from tests.process.conftest import RunningServer, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser_page() -> Iterator[object]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("no chromium here (apt-get install chromium), and CI is unset")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def server_with_jobs(tmp_path: Path) -> Iterator[RunningServer]:
    url = f"sqlite:///{tmp_path / 'jobtrail.db'}"
    server = start_server(
        url,
        tmp_path,
        extra_env={"JOBTRAIL_DELETION_DELAY": "0", "JOBTRAIL_WORKER_POLL_INTERVAL": "0.1"},
    )
    services = build_services(Settings(database_url=url))
    project = services.tenancy.find_project(server.project_key)
    assert project is not None
    seed_sessions(
        services.database,
        project.id,
        ["ada@example.com", "grace@example.com"],
        25,
        tmp_path / "recordings",
    )
    services.close()
    base = f"{server.base_url}/api/v1/{server.project_key}"
    auth = {"Authorization": server.api_key}
    for user in ("ada@example.com", "grace@example.com", "linus@example.com"):
        httpx.delete(f"{base}/users/{user}", headers=auth)
    deadline = time.monotonic() + 30
    while any(
        j["status"] != "completed" for j in httpx.get(f"{base}/jobs", headers=auth).json()["data"]
    ):
        assert time.monotonic() < deadline, "jobs did not complete"
        time.sleep(0.1)
    httpx.delete(f"{base}/users/waiting@example.com", headers=auth)  # runs too, soon
    yield server
    server.process.terminate()
    server.process.wait(timeout=15)


def test_an_operator_signs_in_filters_and_reads_a_jobs_timeline(
    browser_page: object, server_with_jobs: RunningServer
) -> None:
    server = server_with_jobs
    page = browser_page.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
    page.goto(f"{server.base_url}/ui")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_label("Organization API key").fill(server.api_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="default").click()
    table = page.get_by_role("table")
    assert table.get_by_role("row").count() >= 4  # header and three jobs at least

    page.get_by_label("Status").select_option("completed")
    page.get_by_label("User id starts with").fill("ada")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("table").get_by_role("row")
    assert rows.count() == 2  # header and ada's job
    assert "ada@example.com" in rows.nth(1).inner_text()

    rows.nth(1).get_by_role("link").click()
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Job #") and "completed" in heading
    timeline = page.get_by_role("list").filter(has_text="Scheduled")
    text = timeline.inner_text()
    for word in ("Scheduled", "Started", "BatchDeleted", "Completed"):
        assert word in text
    receipt = page.get_by_role("table").inner_text()
    assert "sessions" in receipt and "25" in receipt
    shots = os.environ.get("TEST_SCREENSHOTS")
    if shots:
        page.screenshot(path=str(Path(shots) / "dashboard-job.png"), full_page=True)


def test_the_dashboard_is_readable_on_a_phone(
    browser_page: object, server_with_jobs: RunningServer
) -> None:
    server = server_with_jobs
    phone = browser_page.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)  # type: ignore[attr-defined]
    phone.goto(f"{server.base_url}/ui")
    phone.get_by_label("Organization API key").fill(server.api_key)
    phone.keyboard.press("Enter")  # the form submits from the keyboard
    phone.get_by_role("link", name="default").click()
    # The click starts a navigation: measure the project's page, not the one it leaves.
    phone.wait_for_url("**/ui/projects/**")
    phone.wait_for_load_state()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    font = phone.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font >= 16
    shots = os.environ.get("TEST_SCREENSHOTS")
    if shots:
        phone.screenshot(path=str(Path(shots) / "dashboard-phone.png"), full_page=True)

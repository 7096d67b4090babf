"""The dashboard's plot of requests and answers against their response deadlines, in
a real headless browser: it renders under the page's policy, and an overdue job
stands out, in the plot and in the table."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.composition import build_services
from infrastructure.job_ids import SqlJobIdAllocator
from infrastructure.settings import Settings
from tests.clocks import SteppingClock
from tests.process.conftest import RunningServer
from tests.process.test_dashboard_browser import browser_page as browser_page
from tests.process.test_dashboard_browser import server_with_jobs as server_with_jobs
from tests.scheduling import SchedulingCommands


def overdue_job(server: RunningServer, database_url: str) -> int:
    """A request received 40 days ago and not answered since (its worker waits a
    year to start it): its month has passed."""
    services = build_services(Settings(database_url=database_url))
    try:
        project = services.tenancy.find_project(server.project_key)
        assert project is not None
        commands = SchedulingCommands(
            services.log,
            SqlJobIdAllocator(services.database),
            SteppingClock(datetime.now(UTC) - timedelta(days=40)),
            timedelta(days=365),
        )
        job_id = commands.schedule_user_deletion(project.id, "late@example.com", "key:k").job
        services.projector.catch_up()
        return job_id.job_id
    finally:
        services.close()


def test_the_plot_shows_an_overdue_job_apart_from_the_answered_ones(
    browser_page: object, server_with_jobs: RunningServer, tmp_path: Path
) -> None:
    server = server_with_jobs
    late = overdue_job(server, f"sqlite:///{tmp_path / 'jobtrail.db'}")  # the server's
    page = browser_page.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(f"{server.base_url}/ui")
    page.get_by_label("Organization API key").fill(server.api_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="default").click()

    section = page.get_by_role("region", name="Response deadlines")
    assert "1 overdue" in section.inner_text()
    plot = section.get_by_role("img", name="Requests and answers against their deadlines")
    assert plot.is_visible()
    overdue = plot.locator(f'g.bar-overdue[data-job="{late}"]')
    assert overdue.count() == 1
    assert "overdue by" in overdue.locator("title").text_content()
    assert plot.locator("g.bar-overdue").count() == 1
    assert plot.locator("g.bar-answered-on-time").count() >= 3  # ada, grace, linus (waiting?)
    red = overdue.locator("rect").evaluate("rect => getComputedStyle(rect).fill")
    green = plot.locator("g.bar-answered-on-time rect").first.evaluate(
        "rect => getComputedStyle(rect).fill"
    )
    assert red != green  # told apart by the stylesheet the policy allows
    row = page.get_by_role("row").filter(has_text=f"#{late}")
    assert "overdue" in row.inner_text()
    assert not [text for text in refused if "Content Security Policy" in text]
    shots = os.environ.get("TEST_SCREENSHOTS")
    if shots:
        page.screenshot(path=str(Path(shots) / "dashboard-deadlines.png"), full_page=True)

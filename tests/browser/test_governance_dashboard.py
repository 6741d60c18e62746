"""The governance dashboard in Chromium: signing in lands on it, a number clicks through to the
list behind it, and the page is photographed for a person to look at."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOT = "/tmp/strongroom-governance-dashboard.png"
SCREENSHOT_LIST = "/tmp/strongroom-governance-risks.png"
SCREENSHOT_SECRET = "/tmp/strongroom-governance-secret.png"
SCREENSHOT_PROJECT = "/tmp/strongroom-governance-project.png"


def test_it_lands_on_the_dashboard_and_clicks_a_number_through_to_its_list(
    live_server: Any,
    transactional_db: None,
    browser: Any,
) -> None:
    from django.db import connections

    try:
        _look(live_server.url, browser)
    finally:
        connections.close_all()


def _look(base_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    from tests.conftest import build_cast
    from tests.governance.dashboard_fixtures import VALUES, build_history

    build_history(build_cast())
    problems: list[str] = []
    page = sign_in(browser, base_url, "alice@example.com", problems=problems)

    # The first page after signing in is the dashboard, with live figures and four charts.
    expect(page).to_have_url(re.compile(r"://[^/]+/$"))
    expect(page.get_by_role("heading", name="Acme dashboard")).to_be_visible()
    expect(page.locator('[data-figure="secrets"] .gov-value')).to_have_text("5")
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects")).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert all(value not in page.content() for value in VALUES)

    # A chart's numbers are in its data table.
    page.locator('[data-chart="age"]').locator("xpath=ancestor::details").locator("summary").click()
    expect(page.locator('[data-chart="age"] tbody tr')).to_have_count(5)

    # "Never delivered: 2" opens the list of those two secrets.
    page.locator('[data-flag="never_delivered"]').click()
    expect(page).to_have_url(re.compile(r"/org/acme-org/governance/risks/\?flag=never_delivered$"))
    rows = page.locator('table[data-table="risks"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("API_TOKEN")
    page.screenshot(path=SCREENSHOT_LIST, full_page=True)

    # The project's Governance tab: the same figures, and its environments.
    page.goto(f"{base_url}/projects/acme/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Governance").click()
    expect(page.locator('table[data-table="environments"] tbody tr')).to_have_count(3)
    page.screenshot(path=SCREENSHOT_PROJECT, full_page=True)

    # A key opens who it was delivered to.
    page.goto(f"{base_url}/projects/acme/governance/risks/?path=/backend")
    page.get_by_role("link", name="CACHE_URL").click()
    expect(page.get_by_role("heading", name="Delivered to")).to_be_visible()
    expect(page.locator('table[data-table="deliveries"] tbody tr')).to_have_count(2)
    page.screenshot(path=SCREENSHOT_SECRET, full_page=True)
    assert problems == [], problems

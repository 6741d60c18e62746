"""The organization audit page in Chromium: filters swap the results, export links follow them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.test_browser_flow import ADMIN_EMAIL, ADMIN_PASSWORD, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOT = "/tmp/strongroom-org-audit.png"


def test_it_filters_the_organization_log_and_links_exports(
    live_server: Any,
    transactional_db: None,
    browser: Any,  # noqa: F811
) -> None:
    from django.db import connections

    try:
        _look(live_server.url, browser)
    finally:
        connections.close_all()


def _look(base_url: str, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    from secrets_app.services.bootstrap import bootstrap

    result = bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    slug = result.organization.slug
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"://[^/]+/$"))  # the dashboard

    page.goto(f"{base_url}/org/{slug}/people/")
    page.locator("#org-audit").click()
    expect(page).to_have_url(re.compile(rf"/org/{slug}/audit/$"))
    expect(page.get_by_role("heading", name="Organization audit log")).to_be_visible()
    expect(page.locator("#results")).to_contain_text("user.created")
    page.get_by_label("Events").select_option("all")
    expect(page.locator("#results th", has_text="Project")).to_be_visible()
    page.screenshot(path="/tmp/strongroom-org-audit-all.png", full_page=True)

    page.get_by_label("Action").fill("identity.")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"action=identity\."))
    expect(page.locator("#export-jsonl")).to_have_attribute("href", re.compile(r"action=identity\.&format=jsonl$"))
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert problems == [], problems

"""The organization audit page in Chromium: filters swap the results, export links follow them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOT = "/tmp/strongroom-org-audit.png"


def test_it_filters_the_organization_log_and_links_exports(
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

    from secrets_app.services.bootstrap import bootstrap

    result = bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    slug = result.organization.slug
    problems: list[str] = []
    page = sign_in(browser, base_url, ADMIN_EMAIL, ADMIN_PASSWORD, (1440, 900), problems=problems)

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

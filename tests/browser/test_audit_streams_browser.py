"""The Audit streams page in Chromium: an admin finds it from the organization audit log, adds a
stream with the kind's form (tested first), sees its status refresh, pauses it and replays it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.audit.streams.management.conftest import GOOD_TOKEN, URL, public_dns, recording_kind  # noqa: F401
from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOT = "/tmp/strongroom-audit-streams.png"


def test_an_admin_adds_pauses_and_replays_a_stream(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    recording_kind: Any,  # noqa: F811
    public_dns: None,  # noqa: F811
) -> None:
    from django.db import connections

    try:
        _look(live_server.url, browser)
    finally:
        connections.close_all()


def _look(base_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    from secrets_app.services.bootstrap import bootstrap

    slug = bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD).organization.slug
    problems: list[str] = []
    page = sign_in(browser, base_url, ADMIN_EMAIL, ADMIN_PASSWORD, (1440, 900), problems=problems)

    page.goto(f"{base_url}/org/{slug}/audit/")
    page.locator("#audit-streams-link").click()
    expect(page).to_have_url(re.compile(rf"/org/{slug}/audit/streams/$"))
    expect(page.get_by_role("heading", name=re.compile("Audit streams"))).to_be_visible()
    expect(page.locator("#streams")).to_contain_text("No streams yet")

    page.locator("#add-recording summary").click()
    form = page.locator("#add-recording form")
    form.get_by_label("Name").fill("Security SIEM")
    form.get_by_label("Endpoint URL").fill(URL)
    form.get_by_label("Token").fill(GOOD_TOKEN)
    form.get_by_label("From the beginning").check()
    form.get_by_role("button", name="Add stream").click()
    expect(page.locator("#streams")).to_contain_text("Stream Security SIEM added. The test event was accepted.")
    expect(page.locator("#streams-table")).to_contain_text("Active")
    expect(page.locator("#streams-table .lag-events")).to_contain_text("event")

    page.locator("#streams-table").get_by_role("button", name="Pause").click()
    expect(page.locator("#streams-table")).to_contain_text("Paused")
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.locator("#streams-table").get_by_role("link", name="Security SIEM").click()
    page.get_by_label("From event id").fill("1")
    page.get_by_role("button", name="Replay from here").click()
    expect(page.locator("#stream-status")).to_contain_text("Replaying")
    page.screenshot(path="/tmp/strongroom-audit-stream-detail.png", full_page=True)
    assert GOOD_TOKEN not in page.content()
    assert problems == [], problems

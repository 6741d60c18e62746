"""The whole secret lifecycle in Debian's Chromium, driven by Playwright against a live server
(the ``browser`` fixture and ``sign_in`` are in tests/browser/conftest.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = "/tmp/strongroom-project.png"
FIRST_VALUE = "postgres://app:first-Value-1@db.internal:5432/app"
SECOND_VALUE = "postgres://app:second-Value-2@db.internal:5432/app"


def test_it_creates_reveals_edits_and_rolls_back_a_secret(
    live_server: Any, transactional_db: None, browser: Any
) -> None:
    from django.db import connections

    try:
        _secret_lifecycle(live_server.url, browser)
    finally:
        # ORM calls made while Playwright's event loop runs get a connection of their own (Django
        # keys connections by context); close it, or PostgreSQL cannot drop the test database.
        connections.close_all()


def _secret_lifecycle(base_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    from audit.models import AuditEvent
    from secrets_app.services.bootstrap import bootstrap

    bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    problems: list[str] = []
    page = sign_in(browser, base_url, ADMIN_EMAIL, ADMIN_PASSWORD, (1440, 900), problems=problems)
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page).to_have_url(re.compile(r"/projects/$"))
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()

    # Create a project (dev, staging, prod).
    page.get_by_label("Name").fill("Payments API")
    page.get_by_label("Slug").fill("payments")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects/payments/$"))
    expect(page.get_by_role("heading", name="No secrets in / yet")).to_be_visible()

    # Add a secret in dev.
    page.locator(".add-secret-box > summary").click()
    form = page.locator(".add-secret-form")
    form.get_by_label("Key").fill("DATABASE_URL")
    form.get_by_label("Environment").select_option("dev")
    form.get_by_label("Value").fill(FIRST_VALUE)
    form.get_by_label("Comment").fill("primary database")
    form.get_by_role("button", name="Save secret").click()
    expect(page.locator(".add-secret .alert-success")).to_contain_text("Added DATABASE_URL to dev")

    # The matrix shows it set in dev and missing in staging and prod, and never the value.
    row = page.locator("tr.matrix-row", has_text="DATABASE_URL")
    expect(row.locator("td.cell-set")).to_have_count(1)
    expect(row.locator("td.cell-set")).to_contain_text("v1")
    expect(row.locator("td.cell-missing")).to_have_count(2)
    assert FIRST_VALUE not in page.content()

    # Open the dev cell and reveal the value.
    row.get_by_role("button", name="DATABASE_URL in dev").click()
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", name="DATABASE_URL")).to_be_visible()
    expect(panel.locator(".mask")).to_be_visible()
    panel.get_by_role("button", name="Reveal", exact=True).click()
    expect(panel.locator("pre.value")).to_have_text(FIRST_VALUE)
    expect(panel.locator(".comment")).to_contain_text("primary database")
    panel.get_by_role("button", name="Hide").click()
    expect(panel.locator("pre.value")).to_have_count(0)

    # Edit it: v2.
    panel.locator("#secret-edit-box > summary").click()
    panel.get_by_label("New value").fill(SECOND_VALUE)
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".alert-success")).to_contain_text("v2")
    expect(row.locator("td.cell-set")).to_contain_text("v2")

    # Take a look at the page as a person would see it (panel open, history listed).
    page.screenshot(path=SCREENSHOT, full_page=True)

    # Roll back to v1 from the version history; the value is v1's again (as v3).
    panel.get_by_role("button", name="Roll back to v1").click()
    expect(panel.locator(".alert-success")).to_contain_text("now v3")
    panel.get_by_role("button", name="Reveal", exact=True).click()
    expect(panel.locator("pre.value")).to_have_text(FIRST_VALUE)

    # The folder history lists the commits of dev:/.
    page.get_by_role("button", name="History").click()
    expect(panel.locator("table.commits tbody tr")).to_have_count(3)

    assert AuditEvent.objects.filter(action="secret.value_read", resource_id="DATABASE_URL").count() == 2
    assert AuditEvent.objects.filter(action="secret.rolled_back").count() == 1
    # No CSP violation (inline script/style) and no other script error on the way.
    assert not problems, "\n".join(problems)

"""Issue 17 in Chromium: an org admin scrolls to the bottom of a machine identity's long page, creates a
client secret and finds it in a focused modal dialog (not at the top of the page, out of view);
"I have stored it" closes it and the value is gone from the page. Then a project admin changes a
member's role: nothing is saved until Save, and "Undo" puts the old role back.
Screenshots: /tmp/strongroom-s17-*.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOT = "/tmp/strongroom-s17-{}.png"


def test_a_client_secret_is_shown_in_a_focused_dialog_and_a_role_change_needs_save(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    cast: Any,
) -> None:
    from django.db import connections

    try:
        _flow(live_server.url, browser, cast)
    finally:
        connections.close_all()  # see test_browser_flow: PostgreSQL must be able to drop the test database


def _flow(base_url: str, browser: Any, cast: Any) -> None:
    from playwright.sync_api import expect

    from secrets_app.models import ProjectMembership
    from tests.identities.universal_support import make_robot

    robot = make_robot(cast)  # alice becomes org admin; the identity has universal auth attached
    problems: list[str] = []
    page = sign_in(browser, base_url, "alice@example.com", problems=problems)

    page.goto(f"{base_url}/org/acme-org/identities/{robot.identity.public_id}/")
    create = page.get_by_role("button", name="Create client secret")
    create.scroll_into_view_if_needed()
    page.get_by_label("Description").first.fill("release pipeline")
    create.click()

    dialog = page.locator("dialog.one-time-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("New client secret “release pipeline”")
    secret = dialog.locator("#new-client-secret").inner_text()
    assert len(secret) >= 32
    assert page.evaluate("document.activeElement.closest('dialog.one-time-dialog') !== null")
    # one_time.js turns the dialog (rendered open for pages without script) modal once the page's scripts run
    page.wait_for_function("document.querySelector('dialog.one-time-dialog')?.matches(':modal')", timeout=5_000)
    page.screenshot(path=SHOT.format("client-secret-dialog"))
    page.keyboard.press("Escape")  # does not dismiss it: only the explicit confirmation does
    expect(dialog).to_be_visible()

    dialog.get_by_role("button", name="I have stored it").click()
    expect(page.locator("dialog.one-time-dialog")).to_have_count(0)
    assert secret not in page.content()
    page.screenshot(path=SHOT.format("client-secret-stored"))

    # A role change: the select alone saves nothing; Save does, and Undo reverts it.
    dave = ProjectMembership.objects.get(project=cast.project, user=cast.dave)
    page.goto(f"{base_url}/projects/acme/members/")
    select = page.get_by_label("Role of dave@example.com", exact=True)
    save = page.get_by_role("button", name="Save the role of dave@example.com")
    expect(save).to_be_disabled()
    select.select_option("member")
    expect(save).to_be_enabled()
    page.screenshot(path=SHOT.format("role-unsaved"))
    dave.refresh_from_db()
    assert dave.builtin_role == "viewer"
    save.click()
    notice = page.locator(".undo-notice")
    expect(notice).to_contain_text("Role of dave@example.com changed from viewer to member.")
    page.screenshot(path=SHOT.format("role-undo"))
    notice.get_by_role("button", name="Undo").click()
    expect(page.locator(".undo-notice")).to_contain_text("changed from member to viewer.")
    dave.refresh_from_db()
    assert dave.builtin_role == "viewer"

    # Account: the confirmation must match; the TOTP setup shows a QR code drawn on the server.
    page.goto(f"{base_url}/account/")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-brand-new-passphrase-42")
    page.get_by_label("Confirm new password").fill("a-brand-new-passphrase-43")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password")).to_contain_text("Does not match the new password")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    qr = page.get_by_role("img", name="QR code of the authenticator setup key")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and box["width"] >= 120 and abs(box["width"] - box["height"]) < 1
    qr.scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("account-totp-qr"))
    # The mismatch answers 422 on purpose (the form with its field error); anything else is a problem.
    assert [p for p in problems if "status of 422" not in p] == [], problems

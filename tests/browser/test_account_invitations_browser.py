"""Issue 17 in Chromium: turning TOTP on shows the ten recovery codes in the modal one-time dialog,
one a line; a recovery code signs in at the second step; an admin invites by e-mail (a real SMTP
server receives it) and the invitee follows the link, sets a password and lands signed in; the used
link then shows a clear page. Screenshots: /tmp/h3-*.png (1366x900).
"""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from tests.browser.conftest import DASHBOARD, open_page, sign_in
from tests.conftest import PASSWORD
from tests.notifications.fixtures import smtp_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOT = "/tmp/h3-{}.png"
NEW_PASSWORD = "a-brand-new-passphrase-42"


def test_recovery_codes_and_an_email_invitation_in_the_browser(
    live_server: Any, transactional_db: None, browser: Any, cast: Any, request: Any, settings: Any
) -> None:
    from django.db import connections

    mailbox = request.getfixturevalue("smtp_server")
    settings.SITE_URL = live_server.url
    try:
        _flow(live_server.url, browser, cast, mailbox)
    finally:
        connections.close_all()  # see test_browser_flow: PostgreSQL must be able to drop the test database


def _flow(base_url: str, browser: Any, cast: Any, mailbox: Any) -> None:
    from playwright.sync_api import expect

    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(user=cast.alice).update(role=OrgRole.ADMIN)
    problems: list[str] = []
    page = sign_in(browser, base_url, "alice@example.com", problems=problems)

    page.goto(f"{base_url}/account/")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    seed = page.locator("#totp-secret").inner_text()
    page.get_by_label("Authentication code").fill(pyotp.TOTP(seed).now())
    page.get_by_role("button", name="Confirm and turn on").click()
    dialog = page.locator("dialog.one-time-dialog")
    expect(dialog).to_be_visible()
    # one_time.js turns the dialog (rendered open for pages without script) modal once the page's scripts run
    page.wait_for_function("document.querySelector('dialog.one-time-dialog')?.matches(':modal')", timeout=5_000)
    codes = dialog.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
    box = dialog.locator("#recovery-codes").bounding_box()
    assert box and box["height"] > 150  # one code a line, not a run of text
    page.screenshot(path=SHOT.format("recovery-dialog"))
    dialog.get_by_role("button", name="I have stored it").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#recovery-remaining")).to_contain_text("10 of 10")
    page.locator("#totp").screenshot(path=SHOT.format("account-recovery"))

    # An invitation by e-mail, listed as pending.
    page.goto(f"{base_url}/org/acme-org/people/")
    invite = page.locator("#invite-form")
    invite.get_by_label("Email").fill("newbie@example.com")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invitations")).to_contain_text("newbie@example.com")
    page.screenshot(path=SHOT.format("people-invitations"), full_page=True)
    text = mailbox.messages[0].get_body(preferencelist=("plain",)).get_content()
    link = re.search(re.escape(base_url) + r"/invite/\S+/", text)
    assert link

    invitee = open_page(browser, problems=problems)
    invitee.goto(link.group(0))
    expect(invitee).to_have_url(f"{base_url}/invite/accept/")
    expect(invitee.get_by_role("heading", name="Join Acme")).to_be_visible()
    invitee.screenshot(path=SHOT.format("invite-accept"))
    invitee.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    invitee.get_by_label("Confirm password").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Create account and join").click()
    expect(invitee).to_have_url(DASHBOARD)

    again = open_page(browser)  # its 410 is a console "failed to load" by design
    again.goto(link.group(0))
    expect(again.locator("#invitation-refusal")).to_contain_text("accepted already")
    again.screenshot(path=SHOT.format("invite-used"))

    # The second sign-in step takes a recovery code instead of an authenticator code.
    second = open_page(browser, problems=problems)
    second.goto(f"{base_url}/login/")
    second.get_by_label("Email").fill("alice@example.com")
    second.get_by_label("Password").fill(PASSWORD)
    second.get_by_role("button", name="Log in").click()
    second.get_by_text("Use a recovery code").click()
    second.get_by_label("Recovery code").fill(codes[0])
    second.screenshot(path=SHOT.format("login-recovery"))
    second.get_by_role("button", name="Sign in with a recovery code").click()
    expect(second).to_have_url(DASHBOARD)
    assert problems == []

"""Issue 17 layout in Chromium at 1366×900: a 256-character key (and a deep folder path) must not push the page
wider than the window — not in the add notice, the matrix, the secret panel or the folder history panel.
Screenshots: /tmp/strongroom-s17-longkey.png, /tmp/strongroom-s17-identity-after.png.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.governance.gate_fixtures import ado, world  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTH = 1366
LONG_KEY = ("SERVICE_ACCOUNT_TOKEN_" * 12)[:255] + "Z"  # 256 characters, no space to break at


def test_a_256_character_key_wraps_in_notices_panels_and_history(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    cast: Any,
) -> None:
    from django.db import connections

    try:
        _long_key(live_server.url, browser)
    finally:
        connections.close_all()  # see test_browser_flow: PostgreSQL must be able to drop the test database


def _width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def _long_key(base_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    assert len(LONG_KEY) == 256
    page = sign_in(browser, base_url, "alice@example.com", PASSWORD, (WIDTH, 900))

    page.goto(f"{base_url}/projects/acme/")
    page.locator(".add-secret-box > summary").click()
    form = page.locator(".add-secret-form")
    form.get_by_label("Key").fill(LONG_KEY)
    form.get_by_label("Environment").select_option("dev")
    form.get_by_label("Value").fill("long-key-value")
    form.get_by_role("button", name="Save secret").click()
    expect(page.locator(".add-secret .alert-success")).to_contain_text(LONG_KEY[:40])
    assert _width(page) <= WIDTH, f"the add notice made the page {_width(page)} px wide"

    row = page.locator("tr.matrix-row", has_text=LONG_KEY[:40])
    row.locator("td.cell-set button").first.click()
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", name=LONG_KEY)).to_be_visible()
    assert _width(page) <= WIDTH, f"the secret panel made the page {_width(page)} px wide"

    page.get_by_role("button", name="History").click()
    expect(panel.locator("table.commits tbody tr")).to_have_count(1)
    expect(panel.locator("table.commits")).to_contain_text(LONG_KEY[:40])
    assert _width(page) <= WIDTH, f"the history panel made the page {_width(page)} px wide"
    page.screenshot(path="/tmp/strongroom-s17-longkey.png", full_page=True)


def test_the_identity_page_collapses_unconfigured_methods_and_checkboxes_sit_by_their_labels(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    cast: Any,
) -> None:
    from django.db import connections

    try:
        _identity(live_server.url, browser, cast)
    finally:
        connections.close_all()


def _identity(base_url: str, browser: Any, cast: Any) -> None:
    import os

    from playwright.sync_api import expect

    from tests.identities.universal_support import make_robot

    robot = make_robot(cast)  # alice becomes org admin; universal auth attached; JWT/OIDC/Kubernetes not
    page = sign_in(browser, base_url, "alice@example.com", PASSWORD, (WIDTH, 900))
    page.goto(f"{base_url}/org/acme-org/identities/{robot.identity.public_id}/")
    shot = os.environ.get("S17_IDENTITY_SHOT", "/tmp/strongroom-s17-identity-after.png")
    page.screenshot(path=shot, full_page=True)
    assert _width(page) <= WIDTH

    # The lockout checkbox sits right before its label, on the same line.
    _assert_checkbox_by_label(page, "Lock out after failed logins")

    # Unconfigured methods are one "Add …" button each; opening one shows its whole form.
    for name in ("JWT", "OIDC", "Kubernetes"):
        expect(page.get_by_role("button", name=f"Configure {name} auth")).to_be_hidden()
    page.locator("#identity-kubernetes summary").click()
    expect(page.get_by_role("button", name="Configure Kubernetes auth")).to_be_visible()
    expect(page.get_by_label("Kubernetes host")).to_be_visible()
    for text in ("Clear the stored CA", "Clear the stored reviewer JWT"):  # the same rule in a form row
        _assert_checkbox_by_label(page, text)
    # No live token: no "Revoke all".
    expect(page.get_by_role("button", name="Revoke all tokens")).to_have_count(0)


def test_a_reset_gate_password_is_shown_once_in_the_one_time_dialog(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    world: Any,  # noqa: F811
) -> None:
    from django.db import connections

    try:
        _gate_dialog(live_server.url, browser, world)
    finally:
        connections.close_all()


def _gate_dialog(base_url: str, browser: Any, world: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = sign_in(browser, base_url, "alice@example.com", PASSWORD, (WIDTH, 900))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base_url}/org/acme-org/governance/pipeline-gates/{world.gate.public_id}/")
    page.get_by_role("button", name="Reset the password").click()

    dialog = page.locator("dialog.one-time-dialog")
    expect(dialog).to_be_visible()
    # one_time.js turns the dialog (rendered open for pages without script) modal once the page's scripts run
    page.wait_for_function("document.querySelector('dialog.one-time-dialog')?.matches(':modal')", timeout=5_000)
    password = dialog.locator("#gate-password").inner_text()
    assert len(password) >= 20 and password != world.password
    expect(dialog.locator("#gate-password-extra")).to_have_text(world.username)
    page.screenshot(path="/tmp/strongroom-s17-gate-dialog.png")
    dialog.get_by_role("button", name="I have stored it").click()
    expect(page.locator("dialog.one-time-dialog")).to_have_count(0)
    assert password not in page.content()


def _assert_checkbox_by_label(page: Any, text: str) -> None:
    """The checkbox labelled ``text`` sits just left of its label, vertically centred on it."""
    box = page.get_by_label(text, exact=True).bounding_box()
    label = page.locator("label", has_text=text).first.bounding_box()
    assert box and label, text
    assert 0 <= label["x"] - (box["x"] + box["width"]) <= 16, (text, box, label)
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) <= 6, (text, box, label)

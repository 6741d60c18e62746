"""The secrets matrix and folder history in Chromium (#17): an imported cell opens its source's panel,
a referenced value is marked "ref", "Reveal diff" swaps the two values into its own entry and "Hide"
takes them out again, and "Roll back here…" opens the confirmation listing what it will change,
whose Cancel returns to the history — with no CSP violation or script error on the way.
Screenshots go to /tmp/shots/matrix-history-*.png.

PYTEST_DONT_REWRITE: the assertions handle secret values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser]
SHOTS = Path("/tmp/shots")
OLD_VALUE = "old-Val-0d3e1b"
NEW_VALUE = "new-Val-c72f90"


def test_imports_references_reveal_diff_and_rollback_confirmation_work_in_chromium(
    live_server: Any, transactional_db: None, browser: Any, cast: Any
) -> None:
    from django.db import connections

    SHOTS.mkdir(exist_ok=True)
    try:
        _seed(cast)
        _flow(live_server.url, browser, cast)
    finally:
        connections.close_all()  # see test_browser_flow: PostgreSQL must be able to drop the test database


def _seed(cast: Any) -> None:
    from secrets_app.services.folders import folder_create, import_create
    from secrets_app.services.secrets import SecretInput, secret_create, secret_update

    scope = cast.scope(cast.alice)
    for env, host in (("dev", "dev.example"), ("prod", "prod.example")):
        secret_create(scope=scope, environment=env, path="/", item=SecretInput(key="HOST", value=host))
        secret_create(
            scope=scope, environment=env, path="/", item=SecretInput(key="API_URL", value="https://${HOST}/v1")
        )
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="DB_PASSWORD", value=OLD_VALUE))
    secret_update(
        scope=scope,
        environment="dev",
        path="/",
        key="DB_PASSWORD",
        item=SecretInput(key="DB_PASSWORD", value=NEW_VALUE),
    )
    folder_create(scope=scope, environment="staging", path="/", name="app")
    import_create(scope=scope, environment="staging", path="/app", source_environment="dev", source_path="/")


def _flow(base_url: str, browser: Any, cast: Any) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = sign_in(browser, base_url, cast.alice.email, PASSWORD, (1366, 900), problems=problems)
    page.goto(f"{base_url}/projects/acme/?path=/app")
    imported = page.get_by_role("button", name="API_URL in staging: imported from dev:/")
    expect(imported).to_be_visible()
    page.screenshot(path=str(SHOTS / "matrix-history-imports.png"), full_page=True)
    imported.click()
    expect(page.locator("#secret-panel .eyebrow")).to_contain_text("dev")

    page.goto(f"{base_url}/projects/acme/")
    expect(page.locator(".badge.ref").first).to_be_visible()
    page.get_by_role("button", name="History").click()
    history = page.locator("#folder-history")
    expect(history).to_contain_text("value changed: yes")
    page.get_by_role("button", name="Reveal diff").first.click()
    expect(history.locator(".diff-old")).to_have_text(OLD_VALUE)
    expect(history.locator(".diff-new")).to_have_text(NEW_VALUE)
    page.screenshot(path=str(SHOTS / "matrix-history-diff.png"), full_page=True)
    history.get_by_role("button", name="Hide").click()
    expect(history.locator(".diff-old")).to_have_count(0)
    assert OLD_VALUE not in page.content()

    history.get_by_role("button", name="Roll back here…").last.click()
    confirm = page.locator("#rollback-confirm")
    expect(confirm).to_contain_text("delete")
    expect(confirm.locator(".plan-remove li").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "matrix-history-rollback.png"), full_page=True)
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator("#folder-history")).to_be_visible()
    assert problems == [], problems

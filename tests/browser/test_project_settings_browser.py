"""Project settings and folder actions in Chromium, as a project admin and a member would use them:
open Settings from the project tabs, add an environment, rename it, move it up, delete it (the
confirm says what goes), then rename a folder from the workspace. Screenshots at 1366x900 go to
/tmp/strongroom-s17-settings-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOT = "/tmp/strongroom-s17-settings-{}.png"


def test_an_admin_manages_environments_and_renames_a_folder_and_a_member_reads_only(
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


def _page(browser: Any, base_url: str, email: str) -> tuple[Any, list[str], list[str]]:
    problems: list[str] = []
    dialogs: list[str] = []
    page = sign_in(browser, base_url, email, problems=problems)

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return page, problems, dialogs


def _order(cast: Any) -> list[str]:
    from secrets_app.models import Environment

    return list(Environment.objects.filter(project=cast.project).order_by("position").values_list("slug", flat=True))


def _flow(base_url: str, browser: Any, cast: Any) -> None:
    from playwright.sync_api import expect

    from secrets_app.models import Folder
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = cast.scope(cast.alice)
    for env in ("dev", "staging"):
        folder_create(scope=scope, environment=env, path="/", name="backend")
    secret_create(scope=scope, environment="dev", path="/backend", item=SecretInput(key="API_KEY", value="v-1a2b3c"))

    page, problems, dialogs = _page(browser, base_url, cast.alice.email)
    page.goto(f"{base_url}/projects/acme/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/projects/acme/settings/$"))
    card = page.locator("#environments-card")
    expect(card.locator("tr.env-row")).to_have_count(3)

    # Add an environment.
    add = card.locator("form.env-add")
    add.get_by_label("Slug").fill("qa")
    add.get_by_label("Display name").fill("QA")
    card.get_by_role("button", name="Add environment").click()
    expect(card.locator(".alert-success")).to_have_text("Added environment qa.")
    expect(card.locator("tr.env-row")).to_have_count(4)
    assert _order(cast) == ["dev", "staging", "prod", "qa"]

    # A taken slug is named next to the field.
    add = card.locator("form.env-add")
    add.get_by_label("Slug").fill("prod")
    card.get_by_role("button", name="Add environment").click()
    expect(card.locator(".env-add .field-error")).to_contain_text("already exists")

    # Rename it.
    row = card.locator("tr.env-row", has_text="qa")
    row.get_by_label("Rename qa").click()
    row.get_by_label("New slug for qa").fill("uat")
    row.get_by_label("Display name of qa").fill("User acceptance")
    page.screenshot(path=SHOT.format("rename"), full_page=True)
    row.get_by_role("button", name="Save").click()
    expect(card.locator(".alert-success")).to_have_text("Environment qa is now uat.")
    expect(card.locator("tr.env-row", has_text="User acceptance")).to_be_visible()

    # Move it up.
    card.get_by_role("button", name="Move uat up").click()
    expect(card.locator(".alert-success")).to_have_text("Moved uat up.")
    expect(card.locator("tr.env-row").nth(2)).to_contain_text("uat")
    assert _order(cast) == ["dev", "staging", "uat", "prod"]
    page.screenshot(path=SHOT.format("page"), full_page=True)

    # Delete it: the confirm says what goes.
    card.get_by_role("button", name="Delete uat").click()
    expect(card.locator(".alert-success")).to_have_text("Deleted environment uat.")
    assert "Delete environment uat? This removes 0 secrets and 0 folders" in dialogs[-1]
    assert _order(cast) == ["dev", "staging", "prod"]

    # Rename a folder from the workspace.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Secrets").click()
    page.locator(".folder-list").get_by_role("link", name="backend").click()
    expect(page).to_have_url(re.compile(r"path=%2Fbackend"))
    page.get_by_role("button", name="Rename or delete folder").click()
    panel = page.locator("#panel")
    expect(panel.locator("#folder-delete-contents")).to_contain_text("API_KEY")
    expect(panel.locator("#folder-delete-contents")).to_contain_text("removes 1 secret and 0 subfolders")
    page.screenshot(path=SHOT.format("folder-panel"), full_page=True)
    panel.get_by_label("New name").fill("api")
    panel.get_by_role("button", name="Rename folder").click()
    expect(page).to_have_url(re.compile(r"path=%2Fapi"))
    expect(page.locator(".breadcrumbs")).to_contain_text("api")
    assert sorted(
        Folder.objects.filter(project=cast.project, path="/api").values_list("environment__slug", flat=True)
    ) == [
        "dev",
        "staging",
    ]
    page.screenshot(path=SHOT.format("folder-renamed"), full_page=True)
    # The taken slug's 422 (a form with its error) is logged by Chromium; nothing else may be.
    assert [problem for problem in problems if "status of 422" not in problem] == [], problems

    # A member reads the settings page without any control.
    member, member_problems, _ = _page(browser, base_url, cast.bob.email)
    member.goto(f"{base_url}/projects/acme/settings/")
    expect(member.locator("#environments-card tr.env-row")).to_have_count(3)
    expect(member.get_by_role("button", name="Add environment")).to_have_count(0)
    expect(member.get_by_role("button", name="Rename project")).to_have_count(0)
    expect(member.locator("#danger-zone")).to_have_count(0)
    member.screenshot(path=SHOT.format("member"), full_page=True)
    assert member_problems == [], member_problems

"""The Azure DevOps estate in Chromium: an organization admin scans the EstateEmulator from the page
(the status card polls, then the rows refresh without a reload), follows a finding to a group,
imports it through the wizard (map, preview, import, type the secret value, hand it to a sync) and
sees the card on the dashboard. Every step is photographed for a person to look at."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = "/tmp/strongroom-estate-{}.png"
ENTERED = "typed-in-the-browser-Zq81"


@pytest.fixture
def estate_settings(settings: Any) -> None:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_ESTATE_CONCURRENCY = 2
    settings.STRONGROOM_ESTATE_MAX_RETRY_WAIT = 1


def test_it_scans_follows_a_finding_and_imports_a_group(
    live_server: Any,
    transactional_db: None,
    estate_settings: None,
    browser: Any,
) -> None:
    from django.db import connections

    from tests.emulators.azure_devops_estate import EstateEmulator
    from tests.estate.conftest import GOOD_PAT, make_estate_connection, seed_small_estate

    try:
        with EstateEmulator(pats=(GOOD_PAT,)) as ado:
            _walk(live_server.url, browser, ado, seed_small_estate, make_estate_connection)
    finally:
        connections.close_all()


def _walk(base_url: str, browser: Any, ado: Any, seed: Any, connect: Any) -> None:
    from playwright.sync_api import expect

    from estate.models import EstateScan
    from estate.services.scan_run import scan_run_execute
    from tests.conftest import build_cast
    from tests.estate.conftest import PLAIN_PASSWORD_VALUE, PLAIN_SECRET_VALUE, PLAIN_SETTING_VALUE

    cast = build_cast()
    seed(ado)
    connect(cast, ado)
    problems: list[str] = []
    page = sign_in(browser, base_url, "alice@example.com", problems=problems, timeout_ms=15_000)
    expect(page.get_by_role("heading", name="Acme dashboard")).to_be_visible()

    # The organization settings lead to the estate; nothing scanned yet says what to do.
    page.goto(f"{base_url}/org/acme-org/people/")
    page.locator('a[data-org-nav="estate"]').click()
    expect(page.get_by_role("heading", name="Azure DevOps estate")).to_be_visible()
    expect(page.locator("#never-scanned")).to_be_visible()
    page.screenshot(path=SHOTS.format("empty"), full_page=True)

    # Scan now: the card shows the queued scan and polls; a worker (this thread) runs it; the
    # card stops polling and the rows appear without a reload.
    page.locator("#scan-now").click()
    expect(page.locator('#scan-status [data-scan-status="queued"]')).to_be_visible()
    scan = EstateScan.objects.get()
    ado.read_delay = 0.15  # slow enough for the card to show the running scan once
    worker = threading.Thread(target=_run_scan, args=(scan_run_execute, scan.pk))
    worker.start()
    try:
        expect(page.locator('#scan-status [data-scan-status="running"]')).to_be_visible(timeout=6_000)
        page.screenshot(path=SHOTS.format("scanning"), full_page=True)
    except AssertionError:
        pass  # the scan finished between two polls: nothing to photograph
    worker.join(timeout=60)
    expect(page.locator('#scan-status [data-scan-status="succeeded"]')).to_be_visible()
    rows = page.locator('table[data-table="resources"] tbody tr')
    expect(rows.filter(has_text="app-settings")).to_have_count(1)
    expect(page.locator('[data-figure="variable_groups"] .est-value')).to_have_text("4")
    page.screenshot(path=SHOTS.format("page"), full_page=True)

    # A finding filters the list: the two groups holding a secret in plain text.
    page.locator('[data-finding="plain_secret_variable"]').click()
    expect(page).to_have_url(re.compile(r"/org/acme-org/estate/\?finding=plain_secret_variable$"))
    expect(rows).to_have_count(2)

    # The group's page: names and flags, never a value.
    page.get_by_role("link", name="app-settings").click()
    expect(page.get_by_role("heading", name="app-settings")).to_be_visible()
    expect(page.locator('tr[data-variable="API_TOKEN"]')).to_contain_text("looks like a secret")
    page.screenshot(path=SHOTS.format("resource"), full_page=True)

    # The wizard: the suggested place, then the preview, then the import.
    page.locator("#import-button").click()
    expect(page.locator('table[data-table="mapping"] tbody tr')).to_have_count(3)
    page.locator("#imp-environment").select_option("dev")
    page.locator("#imp-path").fill("/app")
    page.screenshot(path=SHOTS.format("wizard-map"), full_page=True)
    page.locator("#map-submit").click()
    expect(page.locator('table[data-table="preview"] tbody tr')).to_have_count(3)
    expect(page.locator('table[data-table="preview"] tr[data-variable="DB_PASSWORD"]')).to_contain_text("needs a value")
    page.screenshot(path=SHOTS.format("wizard-preview"), full_page=True)
    page.locator("#apply-button").click()
    expect(page.locator("#import-notice")).to_contain_text("enter the missing ones below")
    expect(page.locator('#values-form input[type="password"]')).to_have_count(1)
    page.screenshot(path=SHOTS.format("wizard-values"), full_page=True)

    page.locator('#values-form input[type="password"]').fill(ENTERED)
    page.locator("#values-submit").click()
    expect(page.locator("#import-notice")).to_contain_text("Values saved")
    expect(page.locator('[data-import-status="complete"]')).to_be_visible()
    page.get_by_text("Client id and secret (CLI)").click()
    expect(page.locator("#yaml-cli")).to_be_visible()
    expect(page.locator("#yaml-oidc")).to_be_hidden()
    page.locator("#convert-confirm").check()
    page.locator("#convert-submit").click()
    expect(page.locator("#convert")).to_contain_text("Managed by the sync")
    page.screenshot(path=SHOTS.format("wizard-done"), full_page=True)
    html = page.content()
    for value in (PLAIN_SECRET_VALUE, PLAIN_PASSWORD_VALUE, PLAIN_SETTING_VALUE, ENTERED):
        assert value not in html

    # The dashboard's estate card.
    page.goto(f"{base_url}/org/acme-org/governance/")
    expect(page.locator("#estate-card")).to_contain_text("Azure DevOps estate")
    page.locator("#estate-card").screenshot(path=SHOTS.format("dashboard-card"))
    assert problems == [], problems


def _run_scan(execute: Any, scan_id: int) -> None:
    from django.db import connection

    try:
        execute(scan_id=scan_id)
    finally:
        connection.close()

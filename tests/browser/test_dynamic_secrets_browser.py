"""Dynamic secrets in Chromium against the machine's PostgreSQL: an admin defines one from the folder
view (the PostgreSQL form, tested live), takes a lease, sees the credentials once with a running
expiry countdown, logs in to the database as the leased user, and revokes the lease."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in
from tests.dynamic.conftest import DbTarget, pg_admin, pg_login, pg_role_exists, postgres_available

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOT = "/tmp/strongroom-dynamic-secret.png"
FOLDER_SCREENSHOT = "/tmp/strongroom-dynamic-folder.png"
FORM_SCREENSHOT = "/tmp/strongroom-dynamic-form.png"
NAME = "payments-reporting-replica-for-the-analytics-team"


@pytest.fixture
def own_database() -> Iterator[DbTarget]:
    """A database and a CREATEROLE root account of this test's own on 127.0.0.1:5432."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1")
    from psycopg import sql

    run = uuid.uuid4().hex[:10]
    target = DbTarget("postgresql", "127.0.0.1", 5432, f"uidyn_{run}", f"uiroot_{run}", secrets.token_urlsafe(24))
    with pg_admin() as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} WITH LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(target.username), sql.Literal(target.password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(target.database), sql.Identifier(target.username)
            )
        )
    with pg_login(target, target.username, target.password) as root:
        root.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
        root.execute("INSERT INTO items VALUES (1, 'first')")
        root.commit()
    try:
        yield target
    finally:
        with pg_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database)))
            leftovers = admin.execute(
                "SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.roleid = r.oid "
                "JOIN pg_roles g ON g.oid = m.member WHERE g.rolname = %s",
                (target.username,),
            ).fetchall()
            for (role,) in leftovers:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(target.username)))


def test_an_admin_defines_leases_watches_the_countdown_and_revokes(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    own_database: DbTarget,
    settings: Any,
) -> None:
    from django.db import connections

    settings.STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS = 0  # no Celery messages from this process
    try:
        _flow(live_server.url, browser, own_database)
    finally:
        connections.close_all()


def _flow(base_url: str, browser: Any, target: DbTarget) -> None:
    from playwright.sync_api import expect

    from dynamic.models import Lease, LeaseStatus, TargetAllowlist
    from secrets_app.principals import Principal
    from secrets_app.services.bootstrap import bootstrap
    from secrets_app.services.projects import project_create

    booted = bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    project_create(
        principal=Principal.for_user(booted.admin), organization=booted.organization, slug="payments", name="Payments"
    )
    TargetAllowlist.objects.create(organization=booted.organization, entries=["127.0.0.1/32"])

    problems: list[str] = []
    page = sign_in(browser, base_url, ADMIN_EMAIL, ADMIN_PASSWORD, (1440, 900), problems=problems)
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm

    # The folder view: an empty "Dynamic secrets" section with "New dynamic secret".
    page.goto(f"{base_url}/projects/payments/")
    section = page.locator("#dynamic-secrets")
    expect(section).to_contain_text("None here yet")
    section.get_by_role("link", name="New dynamic secret").click()

    # The PostgreSQL form, pre-filled with its port and default statements.
    form = page.locator("#definition-form")
    expect(form.get_by_label("Port")).to_have_value("5432")
    expect(form.get_by_label("Creation statements")).to_contain_text('CREATE ROLE "{{username}}"')
    form.get_by_label("Name", exact=True).fill(NAME)
    form.get_by_label("Environment").select_option("dev")
    form.get_by_label("Host").fill(target.host)
    form.get_by_label("Database").fill(target.database)
    form.get_by_label("Root user").fill(target.username)
    form.get_by_label("Root password").fill(target.password)
    form.get_by_label("Default TTL").fill("10m")
    form.get_by_label("Max TTL").fill("1h")
    page.screenshot(path=FORM_SCREENSHOT, full_page=True)
    form.get_by_role("button", name="Test connection and save").click()
    expect(page).to_have_url(re.compile(r"/dynamic-secrets/[0-9a-f-]+/\?saved=created$"))
    expect(page.locator(".alert-success").first).to_contain_text("the connection test passed")
    assert target.password not in page.content()

    # Take a lease: the credentials once, focused, with a countdown that moves.
    page.get_by_label("TTL", exact=True).fill("5m")
    page.get_by_role("button", name="Create lease").click()
    once = page.locator("#lease-once")
    expect(once).to_be_visible()
    expect(once.get_by_role("button", name="Copy").first).to_be_focused()
    username = once.locator("#lease-value-1").inner_text()
    password = once.locator("#lease-value-2").inner_text()
    with pg_login(target, username, password) as conn:
        assert conn.execute("SELECT label FROM items").fetchone() == ("first",)
    countdown = page.locator(f"#lease-{Lease.objects.get(username=username).public_id} time.countdown")
    expect(countdown).to_have_text(re.compile(r"^4m \d\ds$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3_000)  # the JS countdown ticks
    page.screenshot(path=SCREENSHOT, full_page=True)

    once.get_by_role("button", name="I have stored it").click()
    expect(page.locator("#lease-once")).to_have_count(0)
    page.reload()
    assert password not in page.content() and username in page.content()

    # The folder view counts it.
    page.goto(f"{base_url}/projects/payments/")
    row = page.locator("#dynamic-secrets tr", has_text=NAME)
    expect(row).to_contain_text("PostgreSQL")
    expect(row.locator(".count")).to_have_text("1")
    page.screenshot(path=FOLDER_SCREENSHOT, full_page=True)

    # Revoke it from the dynamic secret's page: the role is gone.
    row.get_by_role("link", name=NAME).click()
    lease_row = page.locator("tr", has_text=username)
    lease_row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#leases")).to_contain_text(f"Lease of {username} revoked.")
    expect(lease_row.locator(".badge")).to_have_text("revoked")
    assert Lease.objects.get(username=username).status == LeaseStatus.REVOKED
    assert not pg_role_exists(username)
    assert password not in page.content() and target.password not in page.content()
    assert problems == [], problems

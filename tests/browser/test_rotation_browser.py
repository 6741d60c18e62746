"""Rotations in Chromium against the password-checking private PostgreSQL (``scram_pg``): a project
admin opens the Rotations tab, reads the single-user downtime warning when choosing single mode,
creates a two-user PostgreSQL rotation with the form (its root login tested live), sees it listed
with its status and next run, presses "Rotate now" and finds the attempt rotated on the rotation's
page — the owned secrets now log in as the first user. A read-only member (viewer) sees the
rotation but is offered neither the form nor "Rotate now".

"Rotate now" queues the run on commit; here Celery runs it eagerly, inside the live server's
request, as the other browser tests run their engines inline (the worker path is
tests/rotation/test_canary_sweep.py). Screenshots go to /tmp/shots/rotation-*.png.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.rotation.conftest import (  # noqa: F401 (fixtures)
    RotationTarget,
    allow_local,
    login,
    owned_values,
    pg_rotation_target,
    scram_pg,
)
from tests.support.celery_worker import eager  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/tmp/shots")
NAME = "payments-primary-db"


def test_an_admin_creates_and_rotates_a_two_user_rotation_and_a_viewer_gets_no_controls(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_rotation_target: RotationTarget,  # noqa: F811
    eager: None,  # noqa: F811
) -> None:
    from django.db import connections

    SHOTS.mkdir(exist_ok=True)
    try:
        _flow(live_server.url, browser, cast, pg_rotation_target)
    finally:
        connections.close_all()  # see test_browser_flow: PostgreSQL must be able to drop the test database


def _page(browser: Any, base_url: str, email: str) -> tuple[Any, list[str]]:
    problems: list[str] = []
    page = sign_in(browser, base_url, email, PASSWORD, (1440, 900), problems=problems)
    return page, problems


def _flow(base_url: str, browser: Any, cast: Any, target: RotationTarget) -> None:
    from playwright.sync_api import expect

    from rotation.models import Rotation

    db = target.db
    page, problems = _page(browser, base_url, cast.alice.email)

    # The Rotations tab: empty, with what to do next.
    page.goto(f"{base_url}/projects/acme/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Rotations").click()
    expect(page.get_by_role("heading", name="No rotations yet")).to_be_visible()
    page.get_by_role("link", name="New rotation").click()

    # The PostgreSQL form; choosing single mode shows the downtime trade-off.
    form = page.locator("#rotation-form")
    form.get_by_role("link", name="PostgreSQL").click()
    expect(form.get_by_label("Port")).to_have_value("5432")
    expect(form.get_by_text("Needs CREATEROLE and, on PostgreSQL 16+")).to_be_visible()  # a rotation's root
    page.screenshot(path=str(SHOTS / "perm-form-help.png"), full_page=True)
    form.get_by_label("Single user (brief downtime)").check()
    warning = form.locator("[data-trade-off]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Consumers holding the old password fail")
    page.screenshot(path=str(SHOTS / "rotation-form-single.png"), full_page=True)

    form.get_by_label("Two users, alternate").check()
    form.get_by_label("Name", exact=True).fill(NAME)
    form.get_by_label("Environment").select_option("dev")
    form.get_by_label("Host").fill(db.host)
    form.get_by_label("Port").fill(str(db.port))
    form.get_by_label("Database").fill(db.database)
    form.get_by_label("Root user").fill(db.username)
    form.get_by_label("Root password").fill(db.password)
    form.get_by_label("User 1").fill(target.users[0])
    form.get_by_label("User 2 (two-user mode)").fill(target.users[1])
    page.screenshot(path=str(SHOTS / "rotation-form.png"), full_page=True)
    form.get_by_role("button", name="Test connection and save").click()
    expect(page).to_have_url(re.compile(r"/rotations/[0-9a-f-]+/\?saved=created$"))
    expect(page.locator(".alert-success").first).to_contain_text("the root credentials logged in")
    assert db.password not in page.content()
    rotation = Rotation.objects.get(name=NAME)
    assert (rotation.mode, rotation.usernames) == ("alternate", target.users)

    # Listed with its status and next run; "Rotate now" runs it (eagerly, see the module docstring).
    page.get_by_role("navigation", name="Rotations").get_by_role("link", name="Rotations").click()
    row = page.locator(f"#rotation-{rotation.public_id}")
    expect(row).to_contain_text("not rotated yet")
    expect(row).to_contain_text("never")
    assert rotation.next_run_at is not None
    expect(row).to_contain_text(rotation.next_run_at.strftime("%Y-%m-%d %H:%M"))
    page.screenshot(path=str(SHOTS / "rotation-list.png"), full_page=True)
    row.get_by_role("button", name="Rotate now").click()
    expect(page.locator("#rotation-table .alert-success")).to_contain_text(f"Rotation of {NAME} queued")
    expect(row.locator(".badge.ok")).to_have_text("ok")
    page.screenshot(path=str(SHOTS / "rotation-list-rotated.png"), full_page=True)

    # The rotation's page: the attempt, rotated, as user 1.
    row.get_by_role("link", name=NAME).click()
    attempt = page.locator("table.rot-attempts tbody tr")
    expect(attempt).to_have_count(1)
    expect(attempt.locator(".badge")).to_have_text("rotated")
    expect(attempt).to_contain_text(target.users[0])
    expect(attempt).to_contain_text("Rotate now")  # the trigger
    page.screenshot(path=str(SHOTS / "rotation-detail.png"), full_page=True)
    values = owned_values(cast)
    assert values["DB_USERNAME"] == target.users[0] and login(target, target.users[0], values["DB_PASSWORD"])
    assert values["DB_PASSWORD"] not in page.content() and db.password not in page.content()
    assert problems == [], problems

    # A read-only member: the rotation, without the form or any control.
    viewer, viewer_problems = _page(browser, base_url, cast.dave.email)
    viewer.goto(f"{base_url}/projects/acme/rotations/")
    listed = viewer.locator(f"#rotation-{rotation.public_id}")
    expect(listed).to_contain_text(NAME)
    expect(viewer.get_by_role("link", name="New rotation")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Rotate now")).to_have_count(0)
    viewer.screenshot(path=str(SHOTS / "rotation-viewer-list.png"), full_page=True)
    listed.get_by_role("link", name=NAME).click()
    expect(viewer.locator("table.rot-attempts tbody tr")).to_have_count(1)
    for control in ("Rotate now", "Pause", "Delete rotation"):
        expect(viewer.get_by_role("button", name=control)).to_have_count(0)
    expect(viewer.get_by_role("link", name="Edit")).to_have_count(0)
    viewer.screenshot(path=str(SHOTS / "rotation-viewer-detail.png"), full_page=True)
    assert viewer.request.get(f"{base_url}/projects/acme/rotations/new/").status == 403
    viewer.goto(f"{base_url}/projects/acme/rotations/")
    expect(viewer.locator("#rotation-table thead th")).to_have_count(7)  # no empty actions column
    viewer.screenshot(path=str(SHOTS / "perm-viewer-list.png"), full_page=True)
    assert viewer_problems == [], viewer_problems

    _on_call_and_reveal_card(base_url, browser, cast, page, rotation)


def _on_call_and_reveal_card(base_url: str, browser: Any, cast: Any, admin: Any, rotation: Any) -> None:
    """bob with a custom role holding only ``rotations.rotate`` (and ``secrets.read``): Rotate now
    on the list and the page, nothing that changes the definition; the admin's reveal card: short
    visible labels, accessible names naming the environment, narrow hour inputs; an AWS key
    rotation's mode reads "Two keys, alternate"."""
    from playwright.sync_api import expect

    from rotation.models import Rotation
    from tests.rotation.test_permissions import on_call

    on_call(cast, cast.bob)
    bob, bob_problems = _page(browser, base_url, cast.bob.email)
    bob.goto(f"{base_url}/projects/acme/rotations/")
    row = bob.locator(f"#rotation-{rotation.public_id}")
    expect(row.get_by_role("button", name="Rotate now")).to_be_visible()
    expect(row.get_by_role("button", name="Pause")).to_have_count(0)
    expect(bob.get_by_role("link", name="New rotation")).to_have_count(0)
    bob.screenshot(path=str(SHOTS / "perm-oncall-list.png"), full_page=True)
    row.get_by_role("link", name=NAME).click()
    for control in ("Pause", "Delete rotation"):
        expect(bob.get_by_role("button", name=control)).to_have_count(0)
    expect(bob.get_by_role("link", name="Edit")).to_have_count(0)
    bob.get_by_role("button", name="Rotate now").click()
    expect(bob.locator("table.rot-attempts tbody tr")).to_have_count(2)
    expect(bob.locator("table.rot-attempts tbody tr").first.locator(".badge")).to_have_text("rotated")
    bob.screenshot(path=str(SHOTS / "perm-oncall-detail.png"), full_page=True)
    edit = bob.request.get(f"{base_url}/projects/acme/rotations/{rotation.public_id}/edit/")
    assert edit.status == 403 and "rotations.manage" in edit.text()
    assert bob_problems == [], bob_problems

    issued = Rotation.objects.create(
        project=rotation.project,
        environment=rotation.environment,
        folder=rotation.folder,
        name="ci-deploy-key",
        kind="aws_iam_access_key",
        config={"region": "us-east-1"},
        credentials_ciphertext=b"",
        usernames=["ci-deployer"],
        secrets_mapping={"key_id": "AWS_ACCESS_KEY_ID", "secret": "AWS_SECRET_ACCESS_KEY"},
    )
    admin.goto(f"{base_url}/projects/acme/rotations/")
    expect(admin.locator(f"#rotation-{issued.public_id} td").nth(3)).to_have_text("Two keys, alternate")
    expect(admin.locator(f"#rotation-{rotation.public_id} td").nth(3)).to_have_text("Two users, alternate")
    admin.screenshot(path=str(SHOTS / "perm-admin-list.png"), full_page=True)

    card = admin.locator("#reveal-settings")
    dev = card.locator("#reveal-dev")
    expect(dev).not_to_contain_text("dev:")
    expect(dev).not_to_contain_text("Hours in")
    toggle = card.get_by_label("On: a reveal in dev schedules rotation")
    hours = card.get_by_label("Within how many hours in dev")
    expect(toggle).to_be_visible()
    expect(hours).to_be_visible()
    box = hours.bounding_box()
    assert box is not None and box["width"] < 120, box
    toggle.check()
    hours.fill("6")
    card.get_by_role("button", name="Save dev").click()
    expect(admin.locator("#reveal-settings .alert-success")).to_contain_text("within 6 h")
    admin.locator("#reveal-settings").screenshot(path=str(SHOTS / "perm-reveal-card.png"))

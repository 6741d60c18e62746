"""An org admin configures SSO in the UI against the local OIDC provider, and a new person signs
in through it in Debian's Chromium: redirected to the provider and back, created just in time,
and shown the project their directory group has a role in."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, open_page, sign_in
from tests.emulators.oidc_provider import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_admin_configures_sso_and_a_new_person_signs_in_through_it(
    live_server: Any,
    transactional_db: None,
    browser: Any,
    settings: Any,
) -> None:
    from django.db import connections

    provider = OidcProvider()
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    try:
        _sso_sign_in(live_server.url, browser, provider)
    finally:
        provider.stop()
        connections.close_all()


def _sso_sign_in(base_url: str, chromium: Any, provider: OidcProvider) -> None:
    from playwright.sync_api import expect

    from audit.models import AuditEvent
    from secrets_app.models import Group, GroupProjectMembership, GroupSource
    from secrets_app.principals import Principal
    from secrets_app.services.bootstrap import bootstrap
    from secrets_app.services.projects import project_create

    setup = bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    organization = setup.organization
    project = project_create(
        principal=Principal.for_user(setup.admin), organization=organization, slug="payments", name="Payments API"
    )
    group = Group.objects.create(
        organization=organization, slug="payments-team", name="Payments team", source=GroupSource.IDP, external_id="g-1"
    )
    GroupProjectMembership.objects.create(project=project, group=group, builtin_role="viewer")
    provider.sign_in_as(email="nia@acme.test", name="Nia Park", groups=["g-1"])

    # The org admin turns SSO on.
    admin_page = sign_in(chromium, base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
    admin_page.goto(f"{base_url}/org/default/sso/")
    admin_page.get_by_label("Issuer or discovery URL").fill(provider.issuer)
    admin_page.get_by_label("Client (application) id").fill(provider.client_id)
    admin_page.get_by_label("Client secret").fill(provider.client_secret)
    admin_page.get_by_label("Allowed e-mail domains").fill("acme.test")
    admin_page.get_by_role("button", name="Save").click()
    expect(admin_page.get_by_text("Single sign-on saved.")).to_be_visible()

    # A new person signs in with SSO from the login page.
    problems: list[str] = []
    page = open_page(chromium, problems=problems)
    page.goto(f"{base_url}/login/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_label("Work e-mail").fill("nia@acme.test")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/$"))  # the dashboard
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page.get_by_role("link", name=re.compile("Payments API"))).to_be_visible()
    assert ("GET", "/authorize") in provider.requests and ("POST", "/token") in provider.requests
    assert AuditEvent.objects.filter(action="user.sso_login", actor_label="nia@acme.test").exists()
    assert problems == []

"""People sign in through their organization's OIDC provider: the real flow through the test
client and the provider emulator (authorization code + PKCE, RS256 ID token, Graph memberOf)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from secrets_app.models import Group, GroupProjectMembership, GroupSource, SsoIdentity, UserTOTP
from tests.conftest import PASSWORD
from tests.sso.conftest import sign_in

pytestmark = pytest.mark.django_db


def _ops_group_in_project(cast: Any) -> Group:
    group = Group.objects.create(
        organization=cast.organization, slug="ops", name="Ops", source=GroupSource.IDP, external_id="grp-ops"
    )
    GroupProjectMembership.objects.create(project=cast.project, group=group, builtin_role="member")
    return group


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_it_creates_a_person_at_first_sign_in_and_their_group_shows_them_the_project(cast, sso, provider):
    _ops_group_in_project(cast)
    provider.sign_in_as(email="zoe@acme.test", name="Zoe Ng", groups=["grp-ops", "grp-unmapped"])
    client = Client()

    response = sign_in(client)

    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/projects/")
    assert page.status_code == 200 and b"Acme app" in page.content
    zoe = get_user_model().objects.get(email="zoe@acme.test")
    assert not zoe.has_usable_password() and zoe.first_name == "Zoe"
    assert list(zoe.group_memberships.values_list("group__slug", flat=True)) == ["ops"]
    assert _events("user.sso_login")[0].metadata["created"] is True
    assert _events("user.created")[-1].metadata["source"] == "sso"
    # The provider saw a PKCE code exchange and Strongroom fetched discovery and keys from it.
    assert ("POST", "/token") in provider.requests and ("GET", "/keys") in provider.requests


def test_it_keeps_idp_groups_in_step_at_each_sign_in(cast, sso, provider):
    _ops_group_in_project(cast)
    provider.sign_in_as(email="zoe@acme.test", groups=["grp-ops"])
    sign_in(Client())
    provider.sign_in_as(email="zoe@acme.test", groups=[])

    sign_in(Client())

    zoe = get_user_model().objects.get(email="zoe@acme.test")
    assert not zoe.group_memberships.exists()
    assert SsoIdentity.objects.filter(user=zoe).count() == 1


def test_it_starts_from_the_work_email_on_the_login_page(cast, sso, provider):
    client = Client()
    assert b"Sign in with SSO" in client.get("/login/").content

    response = client.post("/login/sso/", {"email": "zoe@acme.test"})
    unknown = client.post("/login/sso/", {"email": "zoe@nowhere.test"})

    assert response.status_code == 302 and response["Location"].startswith(provider.base_url + "/authorize?")
    assert "code_challenge_method=S256" in response["Location"] and "nonce=" in response["Location"]
    assert unknown.status_code == 404 and b"No organization signs in people of this domain" in unknown.content
    # The form's redirect leads off-site: only this page's form-action allows it (https, allowed hosts).
    assert "form-action 'self' https: http://127.0.0.1:*;" in unknown["Content-Security-Policy"]
    assert "form-action 'self';" in client.get("/login/")["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("knob", "value", "reason"),
    [
        ("audience", "someone-else", "aud"),
        ("nonce", "a-replayed-nonce", "nonce"),
        ("expired", True, "exp"),
        ("sign_with_wrong_key", True, "BadSignatureError"),
    ],
)
def test_it_refuses_an_id_token_it_cannot_verify(cast, sso, provider, knob, value, reason):
    provider.sign_in_as(email="zoe@acme.test", groups=[])
    setattr(provider, knob, value)
    client = Client()

    response = sign_in(client)

    assert response.status_code == 403
    assert b"could not be verified" in response.content
    assert not get_user_model().objects.filter(email="zoe@acme.test").exists()
    assert client.get("/projects/").status_code == 302  # not signed in
    failure = _events("user.sso_login_failed")[-1]
    assert failure.outcome == "deny" and failure.metadata["reason"].endswith(reason)


def test_it_refuses_a_discovery_document_naming_another_issuer(cast, sso, provider):
    provider.issuer_override = "https://login.example.com/another-tenant/v2.0"

    response = Client().get("/login/sso/acme-org/")

    assert response.status_code == 502 and b"another issuer" in response.content
    assert not any(path == "/authorize" for _, path in provider.requests)


def test_it_refuses_a_person_of_a_domain_and_groups_it_does_not_allow(cast, sso, provider):
    provider.sign_in_as(email="eve@elsewhere.test", groups=["grp-other"], email_verified=True)

    response = sign_in(Client())

    assert response.status_code == 403
    assert b"may not sign in to Acme" in response.content
    assert not get_user_model().objects.filter(email="eve@elsewhere.test").exists()
    assert _events("user.sso_login_failed")[-1].metadata == {"reason": "not_allowed", "email": "eve@elsewhere.test"}


def test_it_admits_another_domain_through_an_allowed_group(cast, sso, provider):
    provider.sign_in_as(email="carl@contractor.test", groups=["grp-contractors"])

    assert sign_in(Client()).status_code == 302
    assert get_user_model().objects.filter(email="carl@contractor.test").exists()


def test_it_reads_groups_from_graph_when_entra_reports_an_overage(cast, sso, provider):
    _ops_group_in_project(cast)
    provider.overage = True
    provider.sign_in_as(email="zoe@acme.test", groups=["grp-ops"])
    client = Client()

    response = sign_in(client)

    assert response.status_code == 302
    assert b"Acme app" in client.get("/projects/").content
    assert any(path.endswith("/memberOf") for _, path in provider.requests)


def test_it_refuses_an_overage_it_cannot_resolve_with_a_clear_message(cast, sso, provider):
    provider.overage = True
    provider.graph_fails = True
    provider.sign_in_as(email="zoe@acme.test", groups=["grp-ops"])

    response = sign_in(Client())

    assert response.status_code == 502
    assert b"too many directory groups" in response.content
    assert _events("user.sso_login_failed")[-1].metadata["reason"] == "groups_overage_unresolved"


def test_it_links_a_local_account_only_when_the_provider_verified_the_email(cast, sso, provider):
    sso(allowed_domains=["acme.test", "example.com"])
    UserTOTP.objects.create(user=cast.bob, seed_ciphertext=b"x", confirmed=True)  # SSO skips Strongroom's TOTP
    provider.sign_in_as(email="bob@example.com", groups=[])
    assert sign_in(Client()).status_code == 403
    assert _events("user.sso_login_failed")[-1].metadata["reason"] == "email_unverified"

    provider.sign_in_as(email="bob@example.com", groups=[], email_verified=True)
    client = Client()
    response = sign_in(client)

    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/projects/").status_code == 200
    assert SsoIdentity.objects.get(user=cast.bob).organization == cast.organization
    assert _events("user.sso_linked")


def test_it_refuses_a_callback_that_did_not_start_in_this_session(cast, sso, provider):
    response = Client().get("/login/sso/callback/?code=x&state=y")

    assert response.status_code == 400 and b"Start again" in response.content


def test_it_shows_and_records_a_refusal_by_the_provider(cast, sso, provider):
    client = Client()
    client.get("/login/sso/acme-org/")

    response = client.get("/login/sso/callback/?error=access_denied&error_description=Not+assigned+to+the+app")

    assert response.status_code == 403 and b"Not assigned to the app" in response.content
    assert _events("user.sso_login_failed")[-1].metadata["reason"] == "provider_error:access_denied"


def test_require_sso_refuses_local_passwords_except_break_glass_admins(cast, sso, provider, admin):
    sso(require_sso=True, break_glass_emails=[admin.email])

    refused = Client().post("/login/", {"email": cast.bob.email, "password": PASSWORD})
    admitted = Client().post("/login/", {"email": admin.email, "password": PASSWORD})

    assert refused.status_code == 403 and b"requires single sign-on" in refused.content
    assert admitted.status_code == 302
    event = _events("user.break_glass_login")[-1]
    assert event.actor_label == admin.email and event.metadata["require_sso"] is True
    assert len(mail.outbox) == 1 and admin.email in mail.outbox[0].to
    assert "Break-glass sign-in" in mail.outbox[0].subject
    assert _events("user.password_login_refused")[-1].actor_label == cast.bob.email


def test_a_break_glass_admin_gets_in_while_the_provider_is_down(cast, sso, provider, admin):
    sso(require_sso=True, break_glass_emails=[admin.email])
    provider.stop()

    by_sso = Client().get("/login/sso/acme-org/")
    by_password = Client().post("/login/", {"email": admin.email, "password": PASSWORD})

    assert by_sso.status_code == 502 and b"did not answer" in by_sso.content
    assert by_password.status_code == 302
    assert _events("user.break_glass_login")


def test_an_sso_session_goes_back_through_the_provider_and_ends_when_it_no_longer_accepts(
    cast, sso, provider, settings
):
    """Without SCIM, the directory's decision reaches an open session within the interval."""
    import time_machine
    from django.utils import timezone

    settings.STRONGROOM_SSO_REVALIDATE_SECONDS = 120
    _ops_group_in_project(cast)
    provider.sign_in_as(email="zoe@acme.test", groups=["grp-ops"])
    client = Client()
    assert sign_in(client).status_code == 302
    assert client.get("/projects/").status_code == 200

    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=100)):
        assert client.get("/projects/").status_code == 200  # still within the interval
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=130)):
        due = client.get("/projects/")
        assert due.status_code == 302 and due["Location"] == "/login/sso/acme-org/?next=%2Fprojects%2F"
        assert client.get("/api/v1/me/").status_code in (401, 403)  # the session itself is gone
        logged_out = _events("user.logged_out")[-1]
        assert logged_out.metadata.get("reason") == "sso revalidation"

        # The directory still accepts her: the round trip is silent and she is back where she was.
        back = sign_in(client, start=due["Location"])
        assert back.status_code == 302 and back["Location"] == "/projects/"
        assert client.get("/projects/").status_code == 200

    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=300)):
        due = client.get("/projects/")
        assert due.status_code == 302
        # Now the directory refuses her (e.g. removed from the app): the provider answers with an error.
        client.get(due["Location"])
        refused = client.get("/login/sso/callback/?error=access_denied&error_description=User+disabled")
        assert refused.status_code == 403
        assert client.get("/projects/").status_code == 302  # signed out, and stays out

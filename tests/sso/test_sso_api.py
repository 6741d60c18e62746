"""The organization's SSO configuration over the API: org admins set it (the client secret is
write-only and sealed), members are refused, and the UI section saves it too."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from secrets_app.models import OrganizationSso
from secrets_app.services.sso import sso_client_secret
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db
URL = "/api/v1/organizations/acme-org/sso/"
BODY = {
    "issuer": "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0",
    "clientId": "app-id",
    "clientSecret": "a-very-secret-client-secret",
    "allowedDomains": ["Acme.test"],
}


def test_an_org_admin_configures_sso_and_never_reads_the_secret_back(cast, admin, api):
    client = api(admin)

    put = client.put(URL, BODY, format="json")
    got = client.get(URL)

    assert put.status_code == 200, put.content
    assert got.json()["allowedDomains"] == ["acme.test"] and got.json()["clientSecretSet"] is True
    assert got.json()["claimEmail"] == "email" and got.json()["requireSso"] is False
    assert b"a-very-secret-client-secret" not in put.content + got.content
    config = OrganizationSso.objects.get()
    assert b"a-very-secret" not in bytes(config.client_secret_ciphertext)
    assert sso_client_secret(config) == "a-very-secret-client-secret"
    event = AuditEvent.objects.filter(action="sso.configured").latest("id")
    assert "a-very-secret" not in str(event.metadata)


def test_a_change_without_a_secret_keeps_the_stored_one(cast, admin, api):
    client = api(admin)
    client.put(URL, BODY, format="json")

    response = client.put(URL, {**BODY, "clientSecret": None} | {"clientId": "app-2"}, format="json")
    body_without = {key: value for key, value in BODY.items() if key != "clientSecret"}
    again = client.put(URL, {**body_without, "clientId": "app-3"}, format="json")

    assert response.status_code == 400  # null is not a secret
    assert again.status_code == 200 and again.json()["clientId"] == "app-3"
    assert sso_client_secret(OrganizationSso.objects.get()) == "a-very-secret-client-secret"


def test_requiring_sso_needs_a_break_glass_admin_with_a_password(cast, admin, api):
    client = api(admin)

    without = client.put(URL, {**BODY, "requireSso": True}, format="json")
    member = client.put(URL, {**BODY, "requireSso": True, "breakGlassEmails": [cast.bob.email]}, format="json")
    ok = client.put(URL, {**BODY, "requireSso": True, "breakGlassEmails": [admin.email]}, format="json")

    assert without.status_code == 400 and "breakGlassEmails" in error_of(without)["fields"]
    assert member.status_code == 400 and "not an active admin" in str(error_of(member)["fields"])
    assert ok.status_code == 200 and ok.json()["breakGlassEmails"] == [admin.email]


def test_it_refuses_an_issuer_that_is_not_a_url_and_a_domain_another_org_owns(cast, admin, api):
    client = api(admin)

    bad = client.put(URL, {**BODY, "issuer": "file:///etc/passwd"}, format="json")
    nothing = client.put(URL, {**BODY, "allowedDomains": []}, format="json")

    assert bad.status_code == 400 and nothing.status_code == 400


def test_delete_turns_sso_off_and_members_cannot(cast, admin, api):
    api(admin).put(URL, BODY, format="json")

    refused = api(cast.bob).delete(URL)
    deleted = api(admin).delete(URL)

    assert refused.status_code == 403
    assert deleted.status_code == 204 and not OrganizationSso.objects.exists()
    assert api(admin).get(URL).status_code == 404
    assert AuditEvent.objects.filter(action="sso.removed").count() == 1


def test_the_org_sso_page_saves_the_configuration_for_admins_only(cast, admin):
    ui = Client()
    ui.force_login(admin)
    form = {
        "issuer_url": BODY["issuer"],
        "client_id": "app-id",
        "client_secret": "ui-secret-value",
        "allowed_domains": "acme.test\ncorp.acme.test",
        "claim_email": "email",
        "claim_name": "name",
        "claim_groups": "groups",
    }

    assert b'href="/org/acme-org/sso/"' in ui.get("/org/acme-org/people/").content
    page = ui.get("/org/acme-org/sso/")
    saved = ui.post("/org/acme-org/sso/", form)
    outsider = Client()
    outsider.force_login(cast.charlie)

    assert page.status_code == 200 and b"/login/sso/callback/" in page.content
    assert saved.status_code == 200 and b"Single sign-on saved" in saved.content
    assert b"ui-secret-value" not in saved.content
    assert OrganizationSso.objects.get().allowed_domains == ["acme.test", "corp.acme.test"]
    assert outsider.post("/org/acme-org/sso/", form).status_code == 403

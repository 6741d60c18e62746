"""The invitations API: org admins create (the mail goes to a real SMTP server), list, resend and
revoke; the link is never in an answer; without SMTP, 409 and the generated-password path stays."""

from __future__ import annotations

import re
from typing import Any

import pytest

from audit.models import AuditEvent
from secrets_app.models import Invitation, InvitationStatus, OrgRole
from tests.api.conftest import error_of
from tests.conftest import PASSWORD
from tests.notifications.fixtures import notify_settings, smtp_server  # noqa: F401  (fixtures)

URL = "/api/v1/organizations/acme-org/invitations/"


@pytest.fixture
def mailbox(request: Any) -> Any:
    """The real SMTP server invitations go to (aiosmtpd), with SITE_URL set for their links."""
    request.getfixturevalue("notify_settings")
    return request.getfixturevalue("smtp_server")


@pytest.fixture
def olga(cast: Any) -> Any:
    from secrets_app.services.users import user_create

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


@pytest.mark.django_db
def test_it_creates_lists_resends_and_revokes(
    api: Any,
    cast: Any,
    olga: Any,
    mailbox: Any,
) -> None:
    client = api(olga)
    created = client.post(URL, {"email": "Api@Example.com", "role": "admin"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["email"] == "api@example.com" and body["role"] == "admin" and body["status"] == "pending"
    assert body["sendError"] == "" and body["sentAt"] and body["invitedBy"] == "olga@example.com"
    link = re.search(r"/invite/(\S+)/", mailbox.messages[0].get_body(preferencelist=("plain",)).get_content())
    assert link and link.group(1) not in created.content.decode()

    listed = client.get(URL).json()["invitations"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert link.group(1) not in client.get(URL).content.decode()

    resent = client.post(f"{URL}{body['id']}/resend/", {}, format="json")
    assert resent.status_code == 200 and len(mailbox.messages) == 2
    assert resent.json()["expiresAt"] >= body["expiresAt"]

    revoked = client.delete(f"{URL}{body['id']}/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert Invitation.objects.get(public_id=body["id"]).status == InvitationStatus.REVOKED
    assert client.get(URL).json()["invitations"] == []
    again = client.delete(f"{URL}{body['id']}/")
    assert again.status_code == 409 and "revoked" in error_of(again)["message"]
    assert list(
        AuditEvent.objects.filter(action__startswith="invitation.").order_by("id").values_list("action", flat=True)
    ) == ["invitation.created", "invitation.resent", "invitation.revoked"]


@pytest.mark.django_db
def test_it_refuses_members_bad_input_and_members_already_in(
    api: Any,
    cast: Any,
    olga: Any,
    mailbox: Any,
) -> None:
    refused = api(cast.bob).post(URL, {"email": "x@example.com"}, format="json")
    assert refused.status_code == 403
    assert api(cast.bob).get(URL).status_code == 403
    assert api(cast.mallory).get(URL).status_code == 404

    bad = api(olga).post(URL, {"email": "not-an-address", "role": "owner"}, format="json")
    assert bad.status_code == 400 and {"email", "role"} <= set(error_of(bad)["fields"])
    member = api(olga).post(URL, {"email": "bob@example.com"}, format="json")
    assert member.status_code == 409 and "email" in error_of(member)["fields"]
    assert not Invitation.objects.exists() and mailbox.messages == []


@pytest.mark.django_db
def test_it_answers_409_without_smtp_and_keeps_the_generated_password(api: Any, cast: Any, olga: Any) -> None:
    no_mail = api(olga).post(URL, {"email": "x@example.com"}, format="json")
    assert no_mail.status_code == 409 and "not configured" in error_of(no_mail)["message"]
    added = api(olga).post("/api/v1/organizations/acme-org/people/", {"email": "y@example.com"}, format="json")
    assert added.status_code == 201 and added.json()["temporaryPassword"]


@pytest.mark.django_db
def test_it_wants_an_invitation_not_a_generated_password_when_smtp_is_configured(
    api: Any,
    cast: Any,
    olga: Any,
    mailbox: Any,
) -> None:
    added = api(olga).post("/api/v1/organizations/acme-org/people/", {"email": "y@example.com"}, format="json")
    assert added.status_code == 400 and "invite" in error_of(added)["fields"]["password"][0]

"""E-mail invitations: an org admin invites from the People page, a real SMTP server (aiosmtpd)
receives the mail, and the invitee follows its link with the test client, sets a password and is
signed in with the invited role. Single use, expiry, resend and revoke show clear pages."""

from __future__ import annotations

import datetime
import logging
import re

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from secrets_app.models import Invitation, InvitationStatus, OrganizationMembership, OrgRole
from tests.conftest import PASSWORD
from tests.notifications.fixtures import notify_settings, smtp_server  # noqa: F401  (fixtures)
from tests.ui.conftest import HX

PAGE = "/org/acme-org/people/"
SITE = "https://strongroom.example.com"
NEW_PASSWORD = "a-brand-new-passphrase-42"
LINK = re.compile(re.escape(SITE) + r"(/invite/[^/\s]+/)")


@pytest.fixture
def mailbox(request):
    """The real SMTP server invitations go to (aiosmtpd), with SITE_URL set for their links."""
    request.getfixturevalue("notify_settings")
    return request.getfixturevalue("smtp_server")


@pytest.fixture
def olga(cast):
    from secrets_app.services.users import user_create

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


def _invite(admin: Client, email: str, role: str = "member") -> str:
    response = admin.post(f"{PAGE}invitations/", {"email": email, "role": role}, **HX)
    assert response.status_code == 200, response.content.decode()[:500]
    assert f"{email.lower()} has an e-mail" in response.content.decode()
    return response.content.decode()


def _link_in(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(1)


@pytest.mark.django_db
def test_it_invites_by_email_and_the_invitee_joins_with_the_role(
    login,
    cast,
    olga,
    mailbox,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    admin = login(olga)
    page = admin.get(PAGE).content.decode()
    assert 'id="invite-form"' in page and "Add person" not in page

    _invite(admin, "Newbie@Example.com", role="admin")
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == "newbie@example.com" and "Join Acme" in mail["Subject"]
    path = _link_in(mail)
    token = path.split("/")[2]
    invitation = Invitation.objects.get(email="newbie@example.com")
    assert invitation.role == OrgRole.ADMIN and invitation.sent_at is not None
    assert token not in invitation.token_hash and token.split(".")[-1] not in invitation.token_hash
    # Listed as pending for the admin, with resend and revoke.
    listed = admin.get(PAGE).content.decode()
    assert "Pending invitations" in listed and "newbie@example.com" in listed and "Resend" in listed

    invitee = Client()
    opened = invitee.get(path)
    assert opened.status_code == 302 and opened["Location"] == "/invite/accept/"
    form = invitee.get("/invite/accept/")
    html = form.content.decode()
    assert form.status_code == 200 and "Join Acme" in html and "newbie@example.com" in html
    assert token not in html and "no-store" in form["Cache-Control"]

    mismatch = invitee.post("/invite/accept/", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and "Does not match" in mismatch.content.decode()
    weak = invitee.post("/invite/accept/", {"password": "short", "confirm_password": "short"})
    assert weak.status_code in (400, 422) and "field-error" in weak.content.decode()
    assert not OrganizationMembership.objects.filter(user__email="newbie@example.com").exists()

    joined = invitee.post("/invite/accept/", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert joined.status_code == 302
    membership = OrganizationMembership.objects.get(organization=cast.organization, user__email="newbie@example.com")
    assert membership.role == OrgRole.ADMIN
    assert invitee.get("/org/acme-org/people/").status_code == 200  # signed in
    assert Client().login(username="newbie@example.com", password=NEW_PASSWORD)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED and invitation.accepted_by_id == membership.user_id

    # Single use: the same link again is a clear page, not a form.
    again = Client()
    again.get(path)
    used = again.get("/invite/accept/")
    assert used.status_code == 410 and "accepted already" in used.content.decode()

    actions = list(
        AuditEvent.objects.filter(action__startswith="invitation.").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["invitation.created", "invitation.accepted"]
    rows = AuditEvent.objects.filter(action__startswith="invitation.")
    assert not any(token in str(row.metadata) or token.split(".")[1] in str(row.metadata) for row in rows)
    # No log line of ours names it (the test SMTP server's own "mail.log" prints the mail it got).
    ours = [record.getMessage() for record in caplog.records if not record.name.startswith("mail.log")]
    assert ours and not any(token.split(".")[1] in line for line in ours)


@pytest.mark.django_db
def test_it_shows_clear_pages_for_expired_revoked_replaced_and_forged_links(
    login,
    cast,
    olga,
    mailbox,
):
    admin = login(olga)
    _invite(admin, "late@example.com")
    _invite(admin, "revoked@example.com")
    late_path, revoked_path = (_link_in(message) for message in mailbox.messages)

    Invitation.objects.filter(email="late@example.com").update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    expired = Client()
    expired.get(late_path)
    page = expired.get("/invite/accept/")
    assert page.status_code == 410 and "expired" in page.content.decode()
    assert 'name="password"' not in page.content.decode()
    assert "expired" in admin.get(PAGE).content.decode()

    # Resend: a new mail, the old link is replaced, the new one works for a full period again.
    late = Invitation.objects.get(email="late@example.com")
    resent = admin.post(f"{PAGE}invitations/{late.public_id}/resend/", **HX)
    assert resent.status_code == 200 and "sent again" in resent.content.decode()
    fresh_path = _link_in(mailbox.messages[-1])
    assert fresh_path != late_path
    stale = Client()
    stale.get(late_path)
    assert stale.get("/invite/accept/").status_code == 410
    fresh = Client()
    fresh.get(fresh_path)
    assert fresh.get("/invite/accept/").status_code == 200

    revoking = Invitation.objects.get(email="revoked@example.com")
    assert admin.post(f"{PAGE}invitations/{revoking.public_id}/revoke/", **HX).status_code == 200
    revoked = Client()
    revoked.get(revoked_path)
    gone = revoked.get("/invite/accept/")
    assert gone.status_code == 410 and "revoked" in gone.content.decode()
    assert (
        revoked.post("/invite/accept/", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}).status_code == 410
    )
    assert not OrganizationMembership.objects.filter(user__email="revoked@example.com").exists()

    forged = Client()
    forged.get(fresh_path[:-3] + "xx/")
    refused = forged.get("/invite/accept/")
    assert refused.status_code == 400 and "not valid" in refused.content.decode()
    assert Client().get("/invite/accept/").status_code == 400  # no link at all
    assert set(AuditEvent.objects.filter(action__startswith="invitation.").values_list("action", flat=True)) == {
        "invitation.created",
        "invitation.resent",
        "invitation.revoked",
    }


@pytest.mark.django_db
def test_it_lets_an_existing_account_join_after_signing_in(login, cast, olga, mailbox):
    admin = login(olga)
    _invite(admin, "mallory@example.com")  # has an account in another organization
    path = _link_in(mailbox.messages[0])
    visitor = Client()
    visitor.get(path)
    page = visitor.get("/invite/accept/").content.decode()
    assert "Sign in to accept" in page and 'name="password"' not in page

    visitor.post("/login/?next=/invite/accept/", {"email": "mallory@example.com", "password": PASSWORD})
    assert "Join Acme" in visitor.get("/invite/accept/").content.decode()
    assert visitor.post("/invite/accept/").status_code == 302
    assert OrganizationMembership.objects.get(organization=cast.organization, user=cast.mallory).role == OrgRole.MEMBER


@pytest.mark.django_db
def test_it_refuses_invitations_to_members_and_non_admins(login, cast, olga, mailbox):
    admin = login(olga)
    member = admin.post(f"{PAGE}invitations/", {"email": "bob@example.com", "role": "member"}, **HX)
    assert member.status_code == 422 and "already a member" in member.content.decode()
    _invite(admin, "twice@example.com")
    twice = admin.post(f"{PAGE}invitations/", {"email": "twice@example.com", "role": "member"}, **HX)
    assert twice.status_code == 422 and "pending invitation" in twice.content.decode()

    refused = login(cast.bob).post(f"{PAGE}invitations/", {"email": "x@example.com", "role": "admin"}, **HX)
    assert refused.status_code == 403
    assert not Invitation.objects.filter(email="x@example.com").exists()
    assert len(mailbox.messages) == 1


@pytest.mark.django_db
def test_it_keeps_adding_with_a_password_when_email_is_not_configured(login, cast, olga):
    page = login(olga).get(PAGE).content.decode()
    assert "Add person" in page and 'id="invite-form"' not in page
    assert "E-mail is not configured" in page

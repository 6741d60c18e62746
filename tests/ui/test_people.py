"""Organization people (add with a one-time password, org role, deactivate) and password change."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEvent
from secrets_app.models import OrganizationMembership, OrgRole, PersonalAccessToken
from tests.conftest import PASSWORD
from tests.ui.conftest import HX, assert_csp_clean

PAGE = "/org/acme-org/people/"
NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def olga(cast):
    """An organization admin of acme-org (alice owns the project but is an org *member*)."""
    from secrets_app.services.users import user_create

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


def _role_url(user) -> str:
    return f"{PAGE}{user.pk}/role/"


def _deactivate_url(user) -> str:
    return f"{PAGE}{user.pk}/deactivate/"


def _one_time_password(html: str) -> str:
    match = re.search(r'id="new-password">([^<]+)<', html)
    assert match, "no one-time password box"
    return match.group(1)


def _logs_in(email: str, password: str) -> bool:
    response = Client().post("/login/", {"email": email, "password": password})
    return response.status_code == 302 and response["Location"] == "/"  # the dashboard


@pytest.mark.django_db
def test_it_lists_people_with_org_role_status_and_joined_date(login, cast, olga):
    response = login(olga).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for person in (cast.alice, cast.bob, cast.charlie, cast.dave, cast.erin, olga):
        assert person.email in html
    assert "mallory@example.com" not in html
    assert "role-admin" in html and "role-member" in html and "badge ok" in html
    joined = OrganizationMembership.objects.get(user=cast.bob).created_at.strftime("%Y-%m-%d")
    assert joined in html
    assert "Add person" in html and "Deactivate" in html and 'name="role"' in html


@pytest.mark.django_db
def test_an_org_admin_adds_a_person_and_sees_the_generated_password_once(login, cast, olga):
    client = login(olga)
    response = client.post(PAGE, {"email": "Nina@Example.com", "role": "member", "password": ""}, **HX)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    password = _one_time_password(html)
    assert len(password) >= 12
    assert "Added nina@example.com as organization member." in html and 'data-copy-target="#new-password"' in html
    membership = OrganizationMembership.objects.get(organization=cast.organization, user__email="nina@example.com")
    assert membership.role == OrgRole.MEMBER

    page = client.get(PAGE).content.decode()
    assert "nina@example.com" in page and password not in page and 'id="new-password"' not in page
    for event in AuditEvent.objects.all():
        row = " ".join(str(value) for value in event.__dict__.values())
        assert password not in row, f"the one-time password leaked into audit event {event.action}"
    assert AuditEvent.objects.filter(action="user.created", metadata__email="nina@example.com").exists()
    assert _logs_in("nina@example.com", password)


@pytest.mark.django_db
def test_an_org_admin_adds_a_person_with_a_chosen_password_and_role(login, cast, olga):
    response = login(olga).post(PAGE, {"email": "omar@example.com", "role": "admin", "password": NEW_PASSWORD}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="new-password"' not in html and NEW_PASSWORD not in html
    assert "with the password you chose" in html
    assert OrganizationMembership.objects.get(user__email="omar@example.com").role == OrgRole.ADMIN
    assert _logs_in("omar@example.com", NEW_PASSWORD)


@pytest.mark.django_db
def test_it_shows_add_person_errors_next_to_the_field(login, cast, olga):
    client = login(olga)
    taken = client.post(PAGE, {"email": "bob@example.com", "role": "member", "password": ""}, **HX)
    assert taken.status_code == 422
    email_field = taken.content.decode().split('for="person-email"')[1].split('for="person-role"')[0]
    assert "field-error" in email_field and "already exists" in email_field
    weak = client.post(PAGE, {"email": "weak@example.com", "role": "member", "password": "short"}, **HX)
    assert weak.status_code == 422
    password_field = weak.content.decode().split('for="person-password"')[1]
    assert "field-error" in password_field and "too short" in password_field
    assert 'value="short"' not in weak.content.decode()  # a typed password is never sent back
    assert not get_user_model().objects.filter(email__in=["weak@example.com"]).exists()


@pytest.mark.django_db
def test_a_member_sees_the_list_read_only_and_is_refused_changes(login, cast):
    client = login(cast.alice)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "bob@example.com" in html and "charlie@example.com" in html
    assert "Add person" not in html and "Deactivate" not in html and 'name="role"' not in html
    assert "Only organization admins" in html

    refused = client.post(PAGE, {"email": "sneaky@example.com", "role": "admin", "password": ""}, **HX)
    assert refused.status_code == 403
    assert not get_user_model().objects.filter(email="sneaky@example.com").exists()
    assert AuditEvent.objects.filter(
        action="permission.denied", outcome="deny", metadata__requested_action="organization.manage_people"
    ).exists()
    assert client.post(PAGE, {"email": "sneaky@example.com", "role": "member"}).status_code == 403
    assert client.post(_role_url(cast.bob), {"role": "admin"}, **HX).status_code == 403
    assert client.post(_deactivate_url(cast.bob), {"reason": ""}, **HX).status_code == 403
    assert OrganizationMembership.objects.get(user=cast.bob).role == OrgRole.MEMBER
    cast.bob.refresh_from_db()
    assert cast.bob.is_active


@pytest.mark.django_db
def test_people_outside_the_organization_get_404(login, cast):
    client = login(cast.mallory)  # an admin of *another* organization
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, {"email": "x@example.com", "role": "member"}, **HX).status_code == 404
    assert client.post(_deactivate_url(cast.bob), {}, **HX).status_code == 404
    assert client.post(_role_url(cast.bob), {"role": "member"}, **HX).status_code == 404
    assert login(cast.alice).get("/org/evil-org/people/").status_code == 404
    assert login(cast.alice).get("/org/no-such-org/people/").status_code == 404
    cast.bob.refresh_from_db()
    assert cast.bob.is_active


@pytest.mark.django_db
def test_an_admin_cannot_reach_people_of_another_organization_by_id(login, cast, olga):
    response = login(olga).post(_deactivate_url(cast.mallory), {"reason": ""}, **HX)
    assert response.status_code == 404
    cast.mallory.refresh_from_db()
    assert cast.mallory.is_active


@pytest.mark.django_db
def test_anonymous_visitors_go_to_login(client, cast):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/org/acme-org/people/")
    htmx = client.post(PAGE, {"email": "x@example.com", "role": "member"}, **HX)
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == "/login/"


@pytest.mark.django_db
def test_deactivating_ends_the_persons_session_and_is_audited(login, cast, olga, token_for):
    bob = login(cast.bob)
    token_for(cast.bob)
    assert bob.get("/projects/").status_code == 200

    response = login(olga).post(_deactivate_url(cast.bob), {"reason": "left the company"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "bob@example.com is deactivated" in html and "badge neutral" in html and "deactivated" in html

    after = bob.get("/projects/")
    assert after.status_code == 302 and after["Location"].startswith("/login/")
    assert not _logs_in("bob@example.com", PASSWORD)
    assert not PersonalAccessToken.objects.filter(user=cast.bob, revoked_at__isnull=True).exists()
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.resource_id == str(cast.bob.pk) and event.actor_label == "olga@example.com"
    assert event.metadata["reason"] == "left the company" and event.metadata["email"] == "bob@example.com"


@pytest.mark.django_db
def test_it_changes_an_org_role_and_offers_no_controls_on_yourself(login, cast, olga):
    client = login(olga)
    response = client.post(_role_url(cast.alice), {"role": "admin"}, **HX)
    assert response.status_code == 200
    assert b"Organization role of alice@example.com changed from member to admin." in response.content
    assert OrganizationMembership.objects.get(user=cast.alice).role == OrgRole.ADMIN
    event = AuditEvent.objects.get(action="member.org_role_changed")
    assert event.metadata["role"] == "admin" and event.metadata["previous_role"] == "member"
    # The new admin now gets the controls.
    assert "Add person" in login(cast.alice).get(PAGE).content.decode()

    assert client.post(_role_url(cast.alice), {"role": "owner"}, **HX).status_code == 422
    own_row = client.get(PAGE).content.decode().split("olga@example.com")[1].split("</tr>")[0]
    assert 'name="role"' not in own_row and "Deactivate" not in own_row
    self_change = client.post(_role_url(olga), {"role": "member"}, **HX)
    assert self_change.status_code == 403 and b"cannot change your own" in self_change.content
    assert OrganizationMembership.objects.get(user=olga).role == OrgRole.ADMIN


@pytest.mark.django_db
def test_it_changes_the_password_and_keeps_only_this_session(login, cast):
    client = login(cast.alice)
    other_session = login(cast.alice)
    response = client.post(
        "/account/password/",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        **HX,
    )
    assert response.status_code == 200 and b"Password changed." in response.content
    assert NEW_PASSWORD.encode() not in response.content
    assert client.get("/account/").status_code == 200
    assert other_session.get("/account/").status_code == 302
    assert _logs_in("alice@example.com", NEW_PASSWORD)
    assert not _logs_in("alice@example.com", PASSWORD)
    assert AuditEvent.objects.filter(action="user.password_changed", resource_id=str(cast.alice.pk)).exists()


@pytest.mark.django_db
def test_a_wrong_current_password_is_shown_on_that_field(login, cast):
    client = login(cast.alice)
    response = client.post(
        "/account/password/",
        {"current_password": "not-my-password-1", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        **HX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    current_field = html.split('for="password-current_password"')[1].split('for="password-new_password"')[0]
    assert "Current password" in current_field
    assert "field-error" in current_field and "is not your current password" in current_field
    assert "not-my-password-1" not in html and NEW_PASSWORD not in html
    weak = client.post(
        "/account/password/",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
        **HX,
    )
    assert weak.status_code == 422
    new_field = weak.content.decode().split('for="password-new_password"')[1]
    assert "field-error" in new_field and "too short" in new_field
    assert _logs_in("alice@example.com", PASSWORD)


@pytest.mark.django_db
def test_the_top_bar_links_to_people_of_your_organization(login, cast):
    html = login(cast.bob).get("/projects/").content.decode()
    assert 'href="/org/acme-org/people/"' in html
    assert 'href="/org/evil-org/people/"' in login(cast.mallory).get("/projects/").content.decode()
    people = login(cast.bob).get(PAGE).content.decode()
    assert 'href="/org/acme-org/people/" class="push-right" title="People in Acme" aria-current="page"' in people


@pytest.mark.django_db
def test_people_and_account_pages_keep_the_csp(login, cast, olga):
    client = login(olga)
    for url in (PAGE, "/account/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_csp_clean(response)
    assert_csp_clean(login(cast.alice).get(PAGE))
    added = client.post(PAGE, {"email": "csp@example.com", "role": "member", "password": ""}, **HX)
    assert_csp_clean(added)
    assert_csp_clean(client.post(_deactivate_url(cast.dave), {"reason": ""}, **HX))
    assert_csp_clean(login(cast.bob).post("/account/password/", {"current_password": "x", "new_password": "y"}, **HX))

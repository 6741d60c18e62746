"""Organization people: org admins add, change and deactivate people; nobody else can."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from secrets_app.models import OrganizationMembership, OrgRole
from tests.api.conftest import error_of

PEOPLE = "/api/v1/organizations/acme-org/people/"


@pytest.fixture
def olivia(cast: Any) -> Any:
    """An admin of alice's organization."""
    from secrets_app.services.users import user_create

    return user_create(
        email="olivia@example.com",
        password="correct-horse-battery-staple",
        organization=cast.organization,
        org_role=OrgRole.ADMIN,
    )


def test_it_lets_an_org_admin_add_a_person_with_a_password_shown_once(cast: Any, olivia: Any, api: Any) -> None:
    response = api(olivia).post(PEOPLE, {"email": "newbie@example.com"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "newbie@example.com" and body["role"] == "member"
    password = body["temporaryPassword"]
    assert len(password) >= 12
    listed = api(olivia).get(PEOPLE).json()["people"]
    assert "newbie@example.com" in {person["email"] for person in listed}
    assert password not in str(listed)
    event = AuditEvent.objects.get(action="user.created", metadata__email="newbie@example.com")
    assert password not in str(event.metadata)
    # The new person can log in to the UI with it.
    from django.test import Client

    assert Client().login(username="newbie@example.com", password=password)


def test_it_refuses_people_management_to_non_admins(cast: Any, olivia: Any, api: Any) -> None:
    response = api(cast.alice).post(PEOPLE, {"email": "x@example.com"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert AuditEvent.objects.filter(
        action="permission.denied", metadata__requested_action="organization.manage_people"
    ).exists()
    # Outsiders do not even learn the organization exists.
    assert api(cast.mallory).get(PEOPLE).status_code == 404
    assert api(cast.charlie).post(PEOPLE, {"email": "y@example.com"}, format="json").status_code == 403
    assert api().get(PEOPLE).status_code == 401


def test_it_names_the_field_of_bad_input(cast: Any, olivia: Any, api: Any) -> None:
    response = api(olivia).post(PEOPLE, {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert "email" in error_of(response)["fields"]
    response = api(olivia).post(PEOPLE, {"email": "bob@example.com"}, format="json")
    assert response.status_code == 409


def test_it_changes_org_roles_but_not_ones_own(cast: Any, olivia: Any, api: Any) -> None:
    response = api(olivia).patch(f"{PEOPLE}{cast.bob.pk}/", {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert OrganizationMembership.objects.get(user=cast.bob).role == OrgRole.ADMIN
    assert api(olivia).patch(f"{PEOPLE}{olivia.pk}/", {"role": "member"}, format="json").status_code == 403


def test_it_deactivates_a_person_whose_token_and_session_stop_working_at_once(
    cast: Any, olivia: Any, api: Any, client: Any
) -> None:
    bob_api = api(cast.bob)
    client.force_login(cast.bob)
    assert bob_api.get("/api/v1/projects/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    response = api(olivia).post(f"{PEOPLE}{cast.bob.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["isActive"] is False
    assert bob_api.get("/api/v1/projects/").status_code == 401
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert AuditEvent.objects.filter(action="user.deactivated", resource_id=str(cast.bob.pk)).exists()


def test_it_changes_the_callers_password(cast: Any, api: Any) -> None:
    client = api(cast.bob)
    wrong = client.post(
        "/api/v1/me/password/", {"currentPassword": "nope", "newPassword": "another-long-passphrase"}, format="json"
    )
    assert wrong.status_code == 400 and "currentPassword" in error_of(wrong)["fields"]
    ok = client.post(
        "/api/v1/me/password/",
        {"currentPassword": "correct-horse-battery-staple", "newPassword": "another-long-passphrase"},
        format="json",
    )
    assert ok.status_code == 204
    cast.bob.refresh_from_db()
    assert cast.bob.check_password("another-long-passphrase")

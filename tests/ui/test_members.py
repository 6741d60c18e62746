"""Members and roles: listing, adding, changing, removing, custom roles; controls follow permissions."""

from __future__ import annotations

import pytest

from secrets_app.models import ProjectMembership, Role
from tests.ui.conftest import HX

PAGE = "/projects/acme/members/"


@pytest.mark.django_db
def test_it_lists_members_with_role_badges_and_roles_with_rules(login, cast):
    html = login(cast.alice).get(PAGE).content.decode()
    for email in ("alice@example.com", "bob@example.com", "dave@example.com", "erin@example.com"):
        assert email in html
    assert "charlie@example.com" not in html
    assert "role-admin" in html and "role-viewer" in html and "role-custom" in html
    assert "Developer (dev only)" in html and "secrets.*" in html
    assert "Add member" in html and "New custom role" in html


@pytest.mark.django_db
def test_it_hides_management_controls_from_a_viewer(login, cast):
    response = login(cast.dave).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "bob@example.com" in html
    assert "Add member" not in html and "New custom role" not in html and "Remove" not in html
    assert 'name="role"' not in html


@pytest.mark.django_db
def test_it_refuses_the_page_to_a_role_without_members_read(login, cast):
    assert login(cast.erin).get(PAGE).status_code == 403


@pytest.mark.django_db
def test_it_adds_a_member(login, cast):
    response = login(cast.alice).post(PAGE, {"email": "charlie@example.com", "role": "viewer"}, **HX)
    assert response.status_code == 200
    assert b"Added charlie@example.com as viewer." in response.content
    assert ProjectMembership.objects.get(project=cast.project, user=cast.charlie).builtin_role == "viewer"
    assert login(cast.charlie).get("/projects/acme/").status_code == 200


@pytest.mark.django_db
def test_it_shows_add_member_errors_next_to_the_field(login, cast):
    unknown = login(cast.alice).post(PAGE, {"email": "nobody@example.com", "role": "viewer"}, **HX)
    assert unknown.status_code == 422 and b"field-error" in unknown.content and b"not found" in unknown.content
    outsider = login(cast.alice).post(PAGE, {"email": "mallory@example.com", "role": "viewer"}, **HX)
    assert outsider.status_code == 422
    assert not ProjectMembership.objects.filter(project=cast.project, user=cast.mallory).exists()


@pytest.mark.django_db
def test_it_changes_a_role_and_removes_a_member(login, cast):
    client = login(cast.alice)
    dave = ProjectMembership.objects.get(project=cast.project, user=cast.dave)
    changed = client.post(f"/projects/acme/members/{dave.pk}/", {"role": "member"}, **HX)
    assert changed.status_code == 200 and b"Role of dave@example.com changed from " in changed.content
    dave.refresh_from_db()
    assert dave.builtin_role == "member"
    custom = client.post(f"/projects/acme/members/{dave.pk}/", {"role": "dev-only"}, **HX)
    assert custom.status_code == 200
    dave.refresh_from_db()
    assert dave.custom_role is not None and dave.custom_role.slug == "dev-only"
    removed = client.delete(f"/projects/acme/members/{dave.pk}/", **HX)
    assert removed.status_code == 200 and b"Member removed." in removed.content
    assert not ProjectMembership.objects.filter(pk=dave.pk).exists()


@pytest.mark.django_db
def test_it_refuses_member_changes_by_a_viewer(login, cast):
    bob = ProjectMembership.objects.get(project=cast.project, user=cast.bob)
    response = login(cast.dave).post(f"/projects/acme/members/{bob.pk}/", {"role": "viewer"}, **HX)
    assert response.status_code == 403
    bob.refresh_from_db()
    assert bob.builtin_role == "member"


@pytest.mark.django_db
def test_it_does_not_offer_the_admin_role_to_a_non_admin(login, cast):
    from secrets_app.services.members import member_update

    bob = ProjectMembership.objects.get(project=cast.project, user=cast.bob)
    member_update(scope=cast.scope(cast.alice), membership_id=bob.pk, role="member")
    # A member has no members.manage at all; give bob a custom role that has it.
    from secrets_app.services.members import role_create

    role_create(
        scope=cast.scope(cast.alice),
        slug="people",
        name="People manager",
        rules=[{"action": "members.*"}, {"action": "roles.read"}],
    )
    member_update(scope=cast.scope(cast.alice), membership_id=bob.pk, role="people")
    html = login(cast.bob).get(PAGE).content.decode()
    add_form = html.split('class="inline-form add-member"')[1]
    # Only roles bob may hand out: not admin, and not viewer either (it reads secrets, bob cannot).
    assert 'value="admin"' not in add_form and 'value="viewer"' not in add_form
    assert 'value="people"' in add_form and 'value="no-access"' in add_form
    # Alice (an admin) is shown with her role and no control to change it.
    alice = ProjectMembership.objects.get(project=cast.project, user=cast.alice)
    assert f"/members/{alice.pk}/" not in html and "beyond your role" in html
    refused = login(cast.bob).post(PAGE, {"email": "charlie@example.com", "role": "admin"}, **HX)
    assert refused.status_code == 422  # not an offered choice
    assert not ProjectMembership.objects.filter(user=cast.charlie).exists()


@pytest.mark.django_db
def test_it_creates_a_custom_role_from_rule_rows(login, cast):
    client = login(cast.alice)
    row = client.get("/projects/acme/roles/rule-row/?index=1", **HX)
    assert row.status_code == 200
    assert b'name="rule-1-action"' in row.content and b'hx-swap-oob="true"' in row.content and b"index=2" in row.content
    response = client.post(
        "/projects/acme/roles/",
        {
            "slug": "ci-readonly",
            "name": "CI (read only)",
            "rule-0-effect": "allow",
            "rule-0-action": "secrets.read_value",
            "rule-0-env": ["staging", "prod"],
            "rule-0-path": "/app/**",
            "rule-0-tags": "",
            "rule-1-effect": "deny",
            "rule-1-action": "secrets.read_value",
            "rule-1-path": "/app/admin/**",
            "rule-2-action": "",  # a blank row is ignored
        },
        **HX,
    )
    assert response.status_code == 200
    assert b"Role ci-readonly created." in response.content
    role = Role.objects.get(project=cast.project, slug="ci-readonly")
    rules = list(role.rules.values("effect", "action", "environments", "path"))
    assert rules == [
        {"effect": "allow", "action": "secrets.read_value", "environments": ["staging", "prod"], "path": "/app/**"},
        {"effect": "deny", "action": "secrets.read_value", "environments": [], "path": "/app/admin/**"},
    ]
    assert b'<option value="ci-readonly"' in response.content  # the member selects know it now


@pytest.mark.django_db
def test_it_shows_role_errors_and_keeps_the_rows(login, cast):
    response = login(cast.alice).post(
        "/projects/acme/roles/",
        {"slug": "bad", "name": "Bad", "rule-0-action": "secrets.read", "rule-0-path": "/../x"},
        **HX,
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#role-form"
    html = response.content.decode()
    assert "rules[0].path" in html and 'value="/../x"' in html
    empty = login(cast.alice).post("/projects/acme/roles/", {"slug": "empty", "name": "Empty"}, **HX)
    assert empty.status_code == 422 and b"at least one rule" in empty.content
    assert not Role.objects.filter(slug__in=["bad", "empty"]).exists()


@pytest.mark.django_db
def test_it_deletes_an_unused_custom_role_only(login, cast):
    client = login(cast.alice)
    in_use = client.delete("/projects/acme/roles/dev-only/", **HX)
    assert in_use.status_code == 409 and b"still assigned" in in_use.content
    from secrets_app.services.members import role_create

    role_create(scope=cast.scope(cast.alice), slug="spare", name="Spare", rules=[{"action": "secrets.read"}])
    assert client.delete("/projects/acme/roles/spare/", **HX).status_code == 200
    assert not Role.objects.filter(slug="spare").exists()

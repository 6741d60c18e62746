"""Groups in the web UI: the org Groups page (create, map an IdP group, people of local groups),
the Groups section of a project's Members page, and a person's effective access."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import ActorType
from audit.services import AuditActor
from secrets_app.models import Group, GroupMembership, GroupProjectMembership, GroupSource, OrgRole
from secrets_app.services.group_sync import group_memberships_sync
from tests.conftest import PASSWORD
from tests.ui.conftest import HX, assert_csp_clean

pytestmark = pytest.mark.django_db
GROUPS = "/org/acme-org/groups/"
MEMBERS = "/projects/acme/members/"


@pytest.fixture
def olga(cast: Any) -> Any:
    from secrets_app.services.users import user_create

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


def test_an_org_admin_creates_a_group_adds_people_and_maps_an_idp_group(login: Any, cast: Any, olga: Any) -> None:
    ui = login(olga)
    page = ui.get(GROUPS)
    assert page.status_code == 200
    assert_csp_clean(page)
    assert "No groups yet" in page.content.decode()

    created = ui.post(GROUPS, {"slug": "backend", "name": "Backend", "source": "local"}, **HX)
    assert created.status_code == 200 and "Created group backend" in created.content.decode()
    added = ui.post(f"{GROUPS}backend/members/", {"email": "charlie@example.com"}, **HX)
    assert added.status_code == 200 and "Added charlie@example.com" in added.content.decode()
    unknown = ui.post(f"{GROUPS}backend/members/", {"email": "mallory@example.com"}, **HX)
    assert unknown.status_code == 422 and "not found" in unknown.content.decode()

    mapped = ui.post(GROUPS, {"slug": "eng", "name": "Engineers", "source": "idp", "external_id": "aad-1111"}, **HX)
    assert "Mapped identity provider group eng" in mapped.content.decode()
    listing = ui.get(GROUPS).content.decode()
    assert "aad-1111" in listing and ">IdP<" in listing and ">local<" in listing

    detail = ui.get(f"{GROUPS}eng/").content.decode()
    assert "Managed by the directory" in detail and "Add person" not in detail
    by_hand = ui.post(f"{GROUPS}eng/members/", {"email": "bob@example.com"}, **HX)
    assert by_hand.status_code == 409 and "managed by the directory" in by_hand.content.decode()
    assert not Group.objects.get(slug="eng").memberships.exists()

    removed = ui.post(f"{GROUPS}backend/members/{cast.charlie.pk}/remove/", **HX)
    assert "Removed from the group" in removed.content.decode()
    deleted = ui.post(f"{GROUPS}backend/delete/", **HX)
    assert deleted.status_code == 204 and deleted["HX-Redirect"] == GROUPS
    assert list(Group.objects.values_list("slug", flat=True)) == ["eng"]


@pytest.mark.parametrize("who", ["charlie", "alice", "mallory"])
def test_the_groups_pages_refuse_anyone_but_org_admins(login: Any, cast: Any, olga: Any, who: str) -> None:
    group = Group.objects.create(organization=cast.organization, slug="ops", name="Ops")
    ui = login(getattr(cast, who))
    status = 404 if who == "mallory" else 403
    assert ui.get(GROUPS).status_code == status
    assert ui.get(f"{GROUPS}ops/").status_code == status
    assert ui.post(GROUPS, {"slug": "x", "source": "local"}).status_code == status
    assert ui.post(f"{GROUPS}ops/members/", {"email": "charlie@example.com"}).status_code == status
    assert ui.post(f"{GROUPS}ops/delete/").status_code == status
    assert ui.get(f"/org/acme-org/people/{cast.bob.pk}/access/").status_code == status
    assert Group.objects.filter(pk=group.pk).exists() and not group.memberships.exists()
    assert not Group.objects.filter(slug="x").exists()


def test_the_members_page_gives_a_group_a_grantable_role_and_takes_it_away(login: Any, cast: Any) -> None:
    readers = Group.objects.create(organization=cast.organization, slug="readers", name="Readers")
    GroupMembership.objects.create(group=readers, user=cast.charlie)
    ui = login(cast.alice)
    page = ui.get(MEMBERS)
    assert_csp_clean(page)
    assert "Add group" in page.content.decode()

    added = ui.post("/projects/acme/groups/", {"group": "readers", "role": "viewer"}, **HX)
    assert added.status_code == 200, added.content
    assert "now holds viewer" in added.content.decode()
    assert login(cast.charlie).get("/projects/acme/").status_code == 200

    changed = ui.post("/projects/acme/groups/readers/", {"role": "member"}, **HX)
    assert "Role of group readers changed from viewer to member." in changed.content.decode()
    assert GroupProjectMembership.objects.get(group=readers).builtin_role == "member"
    removed = ui.delete("/projects/acme/groups/readers/", **HX)
    assert "removed from the project" in removed.content.decode()
    assert login(cast.charlie).get("/projects/acme/").status_code == 404


def test_the_members_page_offers_a_manager_only_what_they_may_grant(login: Any, cast: Any) -> None:
    """bob, given members.manage through a custom role, sees no admin option, no control over a
    group holding admin, and not the group he belongs to; the service refuses them anyway."""
    from secrets_app.models import ProjectMembership
    from secrets_app.services.members import role_create

    role_create(
        scope=cast.scope(cast.alice),
        slug="manager",
        name="Manager",
        rules=[{"effect": "allow", "action": "members.*"}, {"effect": "allow", "action": "roles.read"}],
    )
    ProjectMembership.objects.filter(user=cast.bob).update(
        builtin_role="", custom_role=cast.project.roles.get(slug="manager")
    )
    admins = Group.objects.create(organization=cast.organization, slug="admins", name="Admins")
    GroupProjectMembership.objects.create(project=cast.project, group=admins, builtin_role="admin")
    mine = Group.objects.create(organization=cast.organization, slug="mine", name="Mine")
    GroupMembership.objects.create(group=mine, user=cast.bob)
    Group.objects.create(organization=cast.organization, slug="others", name="Others")

    html = login(cast.bob).get(MEMBERS).content.decode()
    section = html[html.index('id="project-groups"') :]
    assert 'value="others"' in section and 'value="mine"' not in section
    assert 'value="admin"' not in section and "beyond your role" in section

    refused = login(cast.bob).post("/projects/acme/groups/admins/", {"role": "manager"}, **HX)
    assert refused.status_code == 403
    assert GroupProjectMembership.objects.get(group=admins).builtin_role == "admin"
    own = login(cast.bob).post("/projects/acme/groups/", {"group": "mine", "role": "manager"}, **HX)
    assert own.status_code == 422 and not GroupProjectMembership.objects.filter(group=mine).exists()


def test_effective_access_shows_where_each_grant_comes_from(login: Any, cast: Any, olga: Any) -> None:
    eng = Group.objects.create(
        organization=cast.organization, slug="eng", name="Engineers", source=GroupSource.IDP, external_id="aad-1"
    )
    GroupProjectMembership.objects.create(project=cast.project, group=eng, builtin_role="admin")
    system = AuditActor(type=ActorType.SYSTEM, id="sign-in", label="sign-in")
    group_memberships_sync(
        user=cast.bob, organization=cast.organization, source=GroupSource.IDP, external_ids=["aad-1"], actor=system
    )

    people = login(olga).get("/org/acme-org/people/").content.decode()
    assert f"/org/acme-org/people/{cast.bob.pk}/access/" in people
    page = login(olga).get(f"/org/acme-org/people/{cast.bob.pk}/access/")
    assert_csp_clean(page)
    html = page.content.decode()
    assert "direct membership" in html and "through group" in html and "Engineers" in html
    assert "role-member" in html and "role-admin" in html  # direct member + group admin -> admin
    # A person sees their own access; nobody else's.
    assert login(cast.bob).get(f"/org/acme-org/people/{cast.bob.pk}/access/").status_code == 200
    assert login(cast.bob).get(f"/org/acme-org/people/{cast.dave.pk}/access/").status_code == 403

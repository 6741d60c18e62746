"""Groups through the REST API: org admins manage groups and local groups' people, project members
managers give groups roles within their own rights, and nobody else gets anywhere."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import ActorType, AuditEvent
from audit.services import AuditActor
from secrets_app.models import Group, GroupSource, OrgRole
from secrets_app.services.group_sync import group_memberships_sync
from secrets_app.services.members import member_add, role_create
from tests.api.conftest import error_of

ORG = "/api/v1/organizations/acme-org/groups/"
PRJ = "/api/v1/projects/acme/groups/"


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


def _local_group(api: Any, admin: Any, slug: str, *emails: str) -> dict[str, Any]:
    created = api(admin).post(ORG, {"slug": slug, "name": slug.title()}, format="json")
    assert created.status_code == 201, created.content
    for email in emails:
        added = api(admin).post(f"{ORG}{slug}/members/", {"email": email}, format="json")
        assert added.status_code == 201, added.content
    return dict(created.json())


def test_it_lets_an_org_admin_build_a_local_group_and_audits_each_change(cast: Any, olivia: Any, api: Any) -> None:
    group = _local_group(api, olivia, "backend", "bob@example.com", "charlie@example.com")
    assert group["source"] == "local" and group["externalId"] == ""

    listed = api(olivia).get(ORG).json()["groups"]
    assert [(g["slug"], g["memberCount"], g["projectCount"]) for g in listed] == [("backend", 2, 0)]
    by_id = api(olivia).get(f"{ORG}{group['id']}/").json()
    assert [m["email"] for m in by_id["members"]] == ["bob@example.com", "charlie@example.com"]

    renamed = api(olivia).patch(f"{ORG}backend/", {"name": "Backend team"}, format="json")
    assert renamed.json()["name"] == "Backend team"
    removed = api(olivia).delete(f"{ORG}backend/members/{cast.charlie.pk}/")
    assert removed.status_code == 204
    assert api(olivia).delete(f"{ORG}backend/members/{cast.charlie.pk}/").status_code == 404
    assert api(olivia).delete(f"{ORG}backend/").status_code == 204
    assert api(olivia).get(ORG).json()["groups"] == []

    actions = list(
        AuditEvent.objects.filter(action__startswith="group.").order_by("id").values_list("action", flat=True)
    )
    assert actions == [
        "group.created",
        "group.member_added",
        "group.member_added",
        "group.updated",
        "group.member_removed",
        "group.deleted",
    ]


def test_it_refuses_people_of_other_organizations_and_duplicates(cast: Any, olivia: Any, api: Any) -> None:
    _local_group(api, olivia, "backend")
    mallory = api(olivia).post(f"{ORG}backend/members/", {"email": "mallory@example.com"}, format="json")
    assert mallory.status_code == 404 and error_of(mallory)["fields"] == {"email": ["not found"]}
    assert api(olivia).post(f"{ORG}backend/members/", {"userId": cast.bob.pk}, format="json").status_code == 201
    again = api(olivia).post(f"{ORG}backend/members/", {"userId": cast.bob.pk}, format="json")
    assert again.status_code == 409
    assert api(olivia).post(ORG, {"slug": "backend"}, format="json").status_code == 409


def test_an_idp_group_is_mapped_by_id_and_its_people_follow_the_directory_only(
    cast: Any, olivia: Any, api: Any
) -> None:
    assert api(olivia).post(ORG, {"slug": "eng", "source": "idp"}, format="json").status_code == 400
    mapped = api(olivia).post(ORG, {"slug": "eng", "source": "idp", "externalId": "aad-1111"}, format="json")
    assert mapped.status_code == 201 and mapped.json()["source"] == "idp"
    assert (
        api(olivia).post(ORG, {"slug": "eng2", "source": "idp", "externalId": "aad-1111"}, format="json").status_code
        == 409
    )

    by_hand = api(olivia).post(f"{ORG}eng/members/", {"email": "bob@example.com"}, format="json")
    assert by_hand.status_code == 409
    assert "directory" in error_of(by_hand)["message"]

    system = AuditActor(type=ActorType.SYSTEM, id="sign-in", label="sign-in")
    group_memberships_sync(
        user=cast.bob, organization=cast.organization, source=GroupSource.IDP, external_ids=["aad-1111"], actor=system
    )
    detail = api(olivia).get(f"{ORG}eng/").json()
    assert [(m["email"], m["source"]) for m in detail["members"]] == [("bob@example.com", "idp")]
    assert api(olivia).delete(f"{ORG}eng/members/{cast.bob.pk}/").status_code == 409
    assert Group.objects.get(slug="eng").memberships.count() == 1

    remapped = api(olivia).patch(f"{ORG}eng/", {"externalId": "aad-2222"}, format="json")
    assert remapped.status_code == 200 and remapped.json()["externalId"] == "aad-2222"


ORG_CALLS = [
    ("get", ORG, None),
    ("post", ORG, {"slug": "x"}),
    ("get", ORG + "ops/", None),
    ("patch", ORG + "ops/", {"name": "x"}),
    ("delete", ORG + "ops/", None),
    ("post", ORG + "ops/members/", {"email": "charlie@example.com"}),
    ("delete", ORG + "ops/members/1/", None),
]


@pytest.mark.parametrize(("who", "status"), [("charlie", 403), ("alice", 403), ("mallory", 404)])
def test_it_refuses_org_group_routes_to_anyone_but_org_admins(
    cast: Any, olivia: Any, api: Any, who: str, status: int
) -> None:
    _local_group(api, olivia, "ops", "bob@example.com")
    for method, path, body in ORG_CALLS:
        client = api(getattr(cast, who))
        response = getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)
        assert response.status_code == status, (method, path, response.content)
    assert Group.objects.get(slug="ops").memberships.count() == 1
    assert not Group.objects.filter(slug="x").exists()
    if status == 403:
        assert AuditEvent.objects.filter(action="permission.denied", actor_label=getattr(cast, who).email).exists()


def test_a_group_role_in_a_project_reaches_its_people_until_removed(cast: Any, olivia: Any, api: Any) -> None:
    group = _local_group(api, olivia, "readers", "charlie@example.com")
    assert api(cast.charlie).get("/api/v1/projects/acme/").status_code == 404

    added = api(cast.alice).post(PRJ, {"groupId": group["id"], "role": "viewer"}, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["role"] == "viewer" and added.json()["memberCount"] == 1
    assert api(cast.alice).post(PRJ, {"groupId": "readers", "role": "viewer"}, format="json").status_code == 409
    assert api(cast.charlie).get("/api/v1/projects/acme/").status_code == 200
    assert cast.scope(cast.charlie).access.role == "viewer"

    assert api(cast.alice).patch(f"{PRJ}readers/", {"role": "member"}, format="json").json()["role"] == "member"
    assert [g["slug"] for g in api(cast.bob).get(PRJ).json()["groups"]] == ["readers"]
    assert api(cast.alice).delete(f"{PRJ}readers/").status_code == 204
    assert api(cast.charlie).get("/api/v1/projects/acme/").status_code == 404
    assert api(cast.alice).delete(f"{PRJ}readers/").status_code == 404
    actions = list(
        AuditEvent.objects.filter(action__startswith="group.project").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["group.project_role_set", "group.project_role_set", "group.project_role_removed"]


def test_a_group_of_another_organization_cannot_be_given_a_role(cast: Any, api: Any) -> None:
    Group.objects.create(organization=cast.other_project.organization, slug="evil", name="evil")
    response = api(cast.alice).post(PRJ, {"groupId": "evil", "role": "viewer"}, format="json")
    assert response.status_code == 404


@pytest.fixture
def manager(cast: Any) -> Any:
    """dave with a custom role that manages members and reads secret names, nothing more."""
    scope = cast.scope(cast.alice)
    role_create(
        scope=scope,
        slug="member-manager",
        name="Member manager",
        rules=[
            {"effect": "allow", "action": "members.*"},
            {"effect": "allow", "action": "secrets.read"},
            {"effect": "allow", "action": "roles.read"},
        ],
    )
    from secrets_app.models import ProjectMembership

    ProjectMembership.objects.filter(project=cast.project, user=cast.dave).update(
        builtin_role="", custom_role=cast.project.roles.get(slug="member-manager")
    )
    return cast.dave


def test_nobody_escalates_through_a_group_role(cast: Any, olivia: Any, api: Any, manager: Any) -> None:
    _local_group(api, olivia, "outsiders", "charlie@example.com")
    _local_group(api, olivia, "mine", "dave@example.com")
    _local_group(api, olivia, "admins", "erin@example.com")
    api(cast.alice).post(PRJ, {"groupId": "admins", "role": "admin"}, format="json")
    dave = api(manager)

    beyond = dave.post(PRJ, {"groupId": "outsiders", "role": "member"}, format="json")
    assert beyond.status_code == 403 and "do not hold" in error_of(beyond)["message"]
    assert dave.post(PRJ, {"groupId": "outsiders", "role": "admin"}, format="json").status_code == 403
    own = dave.post(PRJ, {"groupId": "mine", "role": "viewer"}, format="json")
    assert own.status_code == 403 and "belong to" in error_of(own)["message"]
    assert dave.patch(f"{PRJ}admins/", {"role": "viewer"}, format="json").status_code == 403
    assert dave.delete(f"{PRJ}admins/").status_code == 403
    # Within their rights it works: a viewer-like role they hold entirely.
    within = dave.post(PRJ, {"groupId": "outsiders", "role": "member-manager"}, format="json")
    assert within.status_code == 201, within.content
    # Bob (a member) cannot manage members at all.
    assert api(cast.bob).patch(f"{PRJ}outsiders/", {"role": "viewer"}, format="json").status_code == 403
    assert cast.scope(cast.charlie).access.role == "member-manager"
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="dave@example.com").count() == 5


def test_member_add_keeps_working_with_groups_present(cast: Any, olivia: Any, api: Any) -> None:
    _local_group(api, olivia, "readers", "charlie@example.com")
    api(cast.alice).post(PRJ, {"groupId": "readers", "role": "viewer"}, format="json")
    member_add(scope=cast.scope(cast.alice), email="charlie@example.com", role="member")
    assert cast.scope(cast.charlie).access.role == "member"

"""A3 (a person and a machine are never the same principal) and A6 (nobody grants, assigns or edits
rights they do not hold; nobody changes their own membership; only admins change an admin),
through the real REST API with real bearer tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from secrets_app.identities.access_tokens import access_token_issue
from secrets_app.models import (
    IdentityProjectMembership,
    MachineIdentity,
    OrgRole,
    ProjectMembership,
    UniversalAuth,
)
from secrets_app.services.members import member_add, role_create
from secrets_app.services.users import user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def identity_client(identity: MachineIdentity) -> APIClient:
    issued = access_token_issue(
        identity=identity, auth_method="universal-auth", settings_from=UniversalAuth(identity=identity), ip="127.0.0.1"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.access_token}")
    return client


# --- A3: identity N and user N ------------------------------------------------------------------


@pytest.fixture
def twin(cast: Any) -> tuple[Any, MachineIdentity]:
    """Olga administers acme-org; a machine identity of *another* organization has her numeric id."""
    olga = user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )
    evil_org = cast.other_project.organization
    MachineIdentity.objects.filter(pk=olga.pk).delete()
    identity = MachineIdentity.objects.create(pk=olga.pk, organization=evil_org, name="evil-ci")
    IdentityProjectMembership.objects.create(project=cast.other_project, identity=identity, builtin_role="admin")
    assert identity.pk == olga.pk
    return olga, identity


ORG_A_READS = [
    "/api/v1/projects/acme/",
    "/api/v1/projects/acme/secrets/?environment=dev",
    "/api/v1/projects/acme/members/",
    "/api/v1/projects/acme/roles/",
    "/api/v1/projects/acme/identities/",
    "/api/v1/projects/acme/syncs/",
    "/api/v1/projects/acme/commits/?environment=dev",
    "/api/v1/audit-events/?project=acme",
    "/api/v1/organizations/acme-org/people/",
    "/api/v1/organizations/acme-org/identities/",
]


@pytest.mark.parametrize("route", ORG_A_READS)
def test_A3_identity_with_an_org_admins_numeric_id_reaches_nothing_of_that_org(twin: Any, route: str) -> None:
    _, identity = twin
    response = identity_client(identity).get(route)
    assert response.status_code in (403, 404), (route, response.status_code, response.content[:300])
    assert b"acme" not in response.content.replace(b"/acme", b"")  # no names of the other org leak


def test_A3_identity_twin_reads_only_its_own_orgs_audit_log(cast: Any, twin: Any) -> None:
    _, identity = twin
    acme_events = AuditEvent.objects.filter(organization_id=cast.organization.pk).count()
    assert acme_events > 0

    response = identity_client(identity).get("/api/v1/audit-events/?limit=500")

    assert response.status_code in (200, 403), response.content[:300]
    if response.status_code == 200:
        events = response.json()["results"]
        assert {(event["project"] or {}).get("slug") for event in events} <= {None, "evil"}
        assert b"olga@example.com" not in response.content and b"alice@example.com" not in response.content


def test_A3_identity_twin_lists_only_its_own_projects_and_connections(cast: Any, twin: Any) -> None:
    _, identity = twin
    client = identity_client(identity)
    projects = client.get("/api/v1/projects/")
    assert projects.status_code == 200
    assert [project["slug"] for project in projects.json()["projects"]] == ["evil"]
    connections = client.get("/api/v1/connections/")
    assert connections.status_code in (200, 403, 404)
    assert b"acme" not in connections.content


def test_A3_person_with_an_identitys_numeric_id_gets_none_of_its_memberships(cast: Any, api: Any) -> None:
    stranger = user_create(email="sam@example.com", password=PASSWORD, organization=cast.other_project.organization)
    MachineIdentity.objects.filter(pk=stranger.pk).delete()
    robot = MachineIdentity.objects.create(pk=stranger.pk, organization=cast.organization, name="deployer")
    IdentityProjectMembership.objects.create(project=cast.project, identity=robot, builtin_role="admin")

    client = api(stranger)
    assert client.get("/api/v1/projects/acme/secrets/?environment=dev").status_code == 404
    assert "acme" not in [project["slug"] for project in client.get("/api/v1/projects/").json()["projects"]]
    assert identity_client(robot).get("/api/v1/projects/acme/secrets/?environment=dev").status_code == 200


# --- A6: privilege boundaries ---------------------------------------------------------------------


@pytest.fixture
def roles(cast: Any) -> Any:
    """alice (admin) makes: ``all-star`` (*), ``people-manager`` (members.* only), ``role-editor``
    (roles.* only), ``team-lead`` (the member's rights plus members.manage); bob holds
    ``people-manager``, dave holds ``role-editor``."""
    alice = cast.scope(cast.alice)
    role_create(scope=alice, slug="all-star", name="All", rules=[{"action": "*"}])
    role_create(
        scope=alice,
        slug="people-manager",
        name="People",
        rules=[{"action": "members.manage"}, {"action": "members.read"}],
    )
    role_create(
        scope=alice, slug="role-editor", name="Roles", rules=[{"action": "roles.manage"}, {"action": "roles.read"}]
    )
    role_create(
        scope=alice,
        slug="team-lead",
        name="Lead",
        rules=[
            {"action": "secrets.*"},
            {"action": "folders.*"},
            {"action": "imports.*"},
            {"action": "members.*"},
            {"action": "roles.read"},
            {"action": "tags.manage"},
            {"action": "audit.read"},
            {"action": "syncs.read"},
            {"action": "governance.read"},
        ],
    )
    ProjectMembership.objects.filter(project=cast.project, user=cast.bob).update(
        builtin_role="", custom_role_id=_role_id(cast, "people-manager")
    )
    ProjectMembership.objects.filter(project=cast.project, user=cast.dave).update(
        builtin_role="", custom_role_id=_role_id(cast, "role-editor")
    )
    return cast


def _role_id(cast: Any, slug: str) -> int:
    return cast.project.roles.get(slug=slug).pk


def _membership_id(cast: Any, user: Any) -> int:
    return ProjectMembership.objects.get(project=cast.project, user=user).pk


def _last_denial() -> AuditEvent:
    return AuditEvent.objects.filter(action="permission.denied").order_by("-id").first()


def test_A6_members_manage_cannot_hand_out_a_star_role(roles: Any, api: Any) -> None:
    response = api(roles.bob).post(
        "/api/v1/projects/acme/members/", {"email": roles.charlie.email, "role": "all-star"}, format="json"
    )
    assert response.status_code == 403, response.content
    assert "do not hold" in response.json()["error"]["message"]
    assert not ProjectMembership.objects.filter(project=roles.project, user=roles.charlie).exists()
    denial = _last_denial()
    assert denial.metadata["requested_action"] == "members.grant" and denial.metadata["reasons"]


def test_A6_members_manage_cannot_give_a_colleague_admin_or_a_star_role(roles: Any, api: Any) -> None:
    erin = _membership_id(roles, roles.erin)
    for role in ("admin", "all-star", "member"):
        response = api(roles.bob).patch(f"/api/v1/projects/acme/members/{erin}/", {"role": role}, format="json")
        assert response.status_code == 403, (role, response.content)
    assert ProjectMembership.objects.get(pk=erin).role_slug == "dev-only"


def test_A6_members_manage_cannot_demote_an_admin(roles: Any, api: Any) -> None:
    alice = _membership_id(roles, roles.alice)
    response = api(roles.bob).patch(f"/api/v1/projects/acme/members/{alice}/", {"role": "viewer"}, format="json")
    assert response.status_code == 403
    assert ProjectMembership.objects.get(pk=alice).role_slug == "admin"
    assert api(roles.bob).delete(f"/api/v1/projects/acme/members/{alice}/").status_code == 403
    assert ProjectMembership.objects.filter(pk=alice).exists()


def test_A6_nobody_changes_their_own_membership(roles: Any, api: Any) -> None:
    bob = _membership_id(roles, roles.bob)
    response = api(roles.bob).patch(f"/api/v1/projects/acme/members/{bob}/", {"role": "people-manager"}, format="json")
    assert response.status_code == 403
    assert "own" in response.json()["error"]["message"]


def test_A6_members_manage_cannot_raise_a_machine_identity(roles: Any, api: Any) -> None:
    robot = MachineIdentity.objects.create(organization=roles.organization, name="robot")
    response = api(roles.bob).post(
        "/api/v1/projects/acme/identities/", {"identityId": str(robot.public_id), "role": "all-star"}, format="json"
    )
    assert response.status_code == 403, response.content
    IdentityProjectMembership.objects.create(project=roles.project, identity=robot, builtin_role="no-access")
    response = api(roles.bob).patch(
        f"/api/v1/projects/acme/identities/{robot.public_id}/", {"role": "all-star"}, format="json"
    )
    assert response.status_code == 403
    assert IdentityProjectMembership.objects.get(identity=robot).role_slug == "no-access"


def test_A6_an_identity_cannot_change_its_own_role(roles: Any) -> None:
    robot = MachineIdentity.objects.create(organization=roles.organization, name="robot")
    IdentityProjectMembership.objects.create(project=roles.project, identity=robot, builtin_role="admin")
    response = identity_client(robot).patch(
        f"/api/v1/projects/acme/identities/{robot.public_id}/", {"role": "viewer"}, format="json"
    )
    assert response.status_code == 403


def test_A6_roles_manage_cannot_edit_its_own_role_or_mint_a_bigger_one(roles: Any, api: Any) -> None:
    dave = api(roles.dave)
    own = dave.patch("/api/v1/projects/acme/roles/role-editor/", {"rules": [{"action": "*"}]}, format="json")
    assert own.status_code == 403
    assert [rule.action for rule in roles.project.roles.get(slug="role-editor").rules.all()] == [
        "roles.manage",
        "roles.read",
    ]
    bigger = dave.post("/api/v1/projects/acme/roles/", {"slug": "root", "rules": [{"action": "*"}]}, format="json")
    assert bigger.status_code == 403
    other = dave.patch("/api/v1/projects/acme/roles/people-manager/", {"rules": [{"action": "*"}]}, format="json")
    assert other.status_code == 403
    smaller = dave.post(
        "/api/v1/projects/acme/roles/", {"slug": "readers", "rules": [{"action": "roles.read"}]}, format="json"
    )
    assert smaller.status_code == 201, smaller.content


def test_A6_a_deny_the_granter_holds_must_travel_with_the_grant(cast: Any, api: Any) -> None:
    alice = cast.scope(cast.alice)
    role_create(
        scope=alice,
        slug="no-prod-values",
        name="No prod values",
        rules=[
            {"action": "secrets.*"},
            {"action": "folders.*"},
            {"action": "imports.*"},
            {"action": "members.*"},
            {"action": "roles.read"},
            {"effect": "deny", "action": "secrets.read_value", "environments": ["prod"]},
        ],
    )
    ProjectMembership.objects.filter(project=cast.project, user=cast.bob).update(
        builtin_role="", custom_role_id=_role_id(cast, "no-prod-values")
    )
    # "member" would read prod values, which bob may not.
    refused = api(cast.bob).post(
        "/api/v1/projects/acme/members/", {"email": cast.charlie.email, "role": "member"}, format="json"
    )
    assert refused.status_code == 403
    assert "prod" in refused.json()["error"]["message"]
    # His own role (with the deny) and "viewer" (no values at all) are fine to hand out.
    granted = api(cast.bob).post(
        "/api/v1/projects/acme/members/", {"email": cast.charlie.email, "role": "viewer"}, format="json"
    )
    assert granted.status_code == 201, granted.content


def test_A6_a_holder_may_grant_what_it_holds(roles: Any, api: Any) -> None:
    ProjectMembership.objects.filter(project=roles.project, user=roles.bob).update(
        custom_role_id=_role_id(roles, "team-lead")
    )
    response = api(roles.bob).post(
        "/api/v1/projects/acme/members/", {"email": roles.charlie.email, "role": "viewer"}, format="json"
    )
    assert response.status_code == 201, response.content
    charlie = _membership_id(roles, roles.charlie)
    promoted = api(roles.bob).patch(f"/api/v1/projects/acme/members/{charlie}/", {"role": "member"}, format="json")
    assert promoted.status_code == 200, promoted.content


def test_A6_admins_keep_full_control(roles: Any, api: Any) -> None:
    bob = _membership_id(roles, roles.bob)
    response = api(roles.alice).patch(f"/api/v1/projects/acme/members/{bob}/", {"role": "all-star"}, format="json")
    assert response.status_code == 200
    member_add(scope=roles.scope(roles.alice), email=roles.charlie.email, role="admin")


def test_A6_conditions_on_a_project_wide_action_are_refused_not_ignored(cast: Any, api: Any) -> None:
    response = api(cast.alice).post(
        "/api/v1/projects/acme/roles/",
        {"slug": "odd", "rules": [{"action": "members.manage", "environments": ["dev"]}]},
        format="json",
    )
    assert response.status_code == 400
    assert "project-wide" in response.json()["error"]["message"]


def test_A3_a_principal_has_no_bare_id_to_compare() -> None:
    """The wrong comparison cannot be written: there is no ``principal.id``, and the typed keys of
    a person and a machine with the same number differ."""
    from secrets_app.principals import Principal, PrincipalKey, PrincipalKind

    person = Principal(key=PrincipalKey(PrincipalKind.USER, 7), label="p")
    machine = Principal(key=PrincipalKey(PrincipalKind.IDENTITY, 7), label="m")
    assert not hasattr(person, "id") and not hasattr(machine, "id")
    assert person.key != machine.key and str(machine.key) == "identity:7"
    assert (person.user_id, person.identity_id) == (7, None)
    assert (machine.user_id, machine.identity_id) == (None, 7)


def test_A3_no_code_reaches_for_a_principals_bare_number() -> None:
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("secrets_app", "syncs", "audit", "approvals")
        for path in (root / package).rglob("*.py")
        if path.name != "principals.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"principal\.(id\b|key\.pk)", line)
    ]
    assert offenders == []


def test_A3_identity_twin_reaches_nothing_of_that_org_through_the_compat_api(cast: Any, twin: Any) -> None:
    _, identity = twin
    client = identity_client(identity)
    workspace = str(cast.project.public_id)
    for route in (
        f"/compat/infisical/api/v3/secrets/raw?workspaceId={workspace}&environment=dev",
        f"/compat/infisical/api/v4/secrets?projectId={workspace}&environment=dev",
        f"/compat/infisical/api/v1/workspace/{workspace}",
        "/compat/infisical/api/v1/projects/slug/acme",
    ):
        response = client.get(route)
        assert response.status_code in (403, 404), (route, response.status_code)


def test_A6_the_members_page_offers_only_what_the_caller_may_grant(roles: Any) -> None:
    from django.test import Client

    browser = Client()
    browser.force_login(roles.bob)  # people-manager: members.* only
    html = browser.get("/projects/acme/members/").content.decode()
    offered = set(re.findall(r'<option value="([^"]+)"', html))
    # Without roles.read he sees no custom roles; of the built-in ones he holds only "no-access".
    assert offered == {"no-access"}, offered
    alice = _membership_id(roles, roles.alice)
    assert f"/members/{alice}/" not in html  # no controls for the admin
    assert "beyond your role" in html

    admin = Client()
    admin.force_login(roles.alice)
    offered_to_admin = set(
        re.findall(r'<option value="([^"]+)"', admin.get("/projects/acme/members/").content.decode())
    )
    assert {"admin", "member", "viewer", "all-star", "people-manager"} <= offered_to_admin

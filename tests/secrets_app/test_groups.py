"""Group services and selectors: org admins only, directory groups follow the directory, group
roles stay within the granter's rights, and a person's effective access names its sources."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from secrets_app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import GroupMembership, GroupSource, OrgRole
from secrets_app.principals import Principal
from secrets_app.selectors.groups import group_list, person_effective_access, project_group_list
from secrets_app.services import groups as svc
from secrets_app.services.members import role_create, role_delete
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def olga(cast: Any) -> Principal:
    from secrets_app.services.users import user_create

    user = user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )
    return Principal.for_user(user)


def test_only_org_admins_create_groups_and_each_refusal_is_audited(cast: Any, olga: Principal) -> None:
    for user in (cast.alice, cast.charlie):
        with pytest.raises(PermissionDenied):
            svc.group_create(principal=Principal.for_user(user), organization=cast.organization, slug="ops")
        with pytest.raises(PermissionDenied):
            group_list(principal=Principal.for_user(user), organization=cast.organization)
    assert AuditEvent.objects.filter(action="permission.denied", resource_type="group").count() == 4
    with pytest.raises(ValidationFailed):
        svc.group_create(
            principal=olga, organization=cast.organization, slug="x", source=GroupSource.SCIM, external_id="1"
        )
    with pytest.raises(ValidationFailed):
        svc.group_create(principal=olga, organization=cast.organization, slug="x", external_id="aad-1")
    group = svc.group_create(principal=olga, organization=cast.organization, slug="ops")
    svc.group_member_add(principal=olga, organization=cast.organization, group_ref="ops", user_id=cast.bob.pk)
    listed = group_list(principal=olga, organization=cast.organization)
    assert [(g.slug, g.member_count, g.project_count) for g in listed] == [("ops", 1, 0)]  # type: ignore[attr-defined]
    assert svc.group_find(cast.organization, str(group.public_id)) == group


def test_scim_group_people_are_not_edited_by_hand(cast: Any, olga: Principal) -> None:
    from secrets_app.models import Group

    scim = Group.objects.create(
        organization=cast.organization, slug="finance", name="Finance", source=GroupSource.SCIM, external_id="s-1"
    )
    GroupMembership.objects.create(group=scim, user=cast.bob, source=GroupSource.SCIM)
    with pytest.raises(Conflict, match="managed by the directory"):
        svc.group_member_add(
            principal=olga, organization=cast.organization, group_ref="finance", email="dave@example.com"
        )
    with pytest.raises(Conflict):
        svc.group_member_remove(
            principal=olga, organization=cast.organization, group_ref="finance", user_id=cast.bob.pk
        )
    with pytest.raises(ValidationFailed):
        svc.group_update(principal=olga, organization=cast.organization, group_ref="finance", external_id="s-2")
    assert scim.memberships.count() == 1


def test_a_deleted_group_takes_its_grants_with_it(cast: Any, olga: Principal) -> None:
    svc.group_create(principal=olga, organization=cast.organization, slug="ops")
    svc.group_member_add(principal=olga, organization=cast.organization, group_ref="ops", email="charlie@example.com")
    svc.group_project_role_add(scope=cast.scope(cast.alice), group_ref="ops", role="member")
    assert cast.scope(cast.charlie).access.role == "member"
    assert [item.member_count for item in project_group_list(cast.scope(cast.dave))] == [1]  # type: ignore[attr-defined]

    svc.group_delete(principal=olga, organization=cast.organization, group_ref="ops")
    assert cast.scope(cast.charlie).access.role == "no-access"
    deleted = AuditEvent.objects.get(action="group.deleted")
    assert deleted.metadata["projects"] == ["acme"]


def test_a_custom_role_held_by_a_group_is_not_deleted(cast: Any, olga: Principal) -> None:
    alice = cast.scope(cast.alice)
    role_create(scope=alice, slug="auditor", name="Auditor", rules=[{"effect": "allow", "action": "audit.read"}])
    svc.group_create(principal=olga, organization=cast.organization, slug="ops")
    svc.group_project_role_add(scope=alice, group_ref="ops", role="auditor")
    with pytest.raises(Conflict, match="held by groups"):
        role_delete(scope=alice, slug="auditor")


def test_project_role_changes_of_a_missing_group_are_404(cast: Any) -> None:
    with pytest.raises(NotFound):
        svc.group_project_role_add(scope=cast.scope(cast.alice), group_ref="nope", role="viewer")


def test_effective_access_names_each_source_and_the_result(cast: Any, olga: Principal) -> None:
    alice = cast.scope(cast.alice)
    role_create(
        scope=alice,
        slug="no-prod-values",
        name="No prod values",
        rules=[{"effect": "deny", "action": "secrets.read_value", "environments": ["prod"]}],
    )
    svc.group_create(principal=olga, organization=cast.organization, slug="ops")
    svc.group_create(principal=olga, organization=cast.organization, slug="readers")
    for slug in ("ops", "readers"):
        svc.group_member_add(principal=olga, organization=cast.organization, group_ref=slug, email="bob@example.com")
    svc.group_project_role_add(scope=alice, group_ref="ops", role="no-prod-values")
    svc.group_project_role_add(scope=alice, group_ref="readers", role="viewer")

    access = person_effective_access(principal=olga, organization=cast.organization, user_id=cast.bob.pk)
    assert [m.group.slug for m in access.groups] == ["ops", "readers"]
    (row,) = access.projects
    assert [(s.kind, s.role, s.group.slug if s.group else None) for s in row.sources] == [
        ("direct", "member", None),
        ("group", "no-prod-values", "ops"),
        ("group", "viewer", "readers"),
    ]
    assert row.role == "member"
    assert not cast.scope(cast.bob).access.can("secrets.read_value", environment="prod", path="/", tags=[])

    olga_row = person_effective_access(principal=olga, organization=cast.organization, user_id=olga.user_id).projects
    assert [(s.kind, s.role) for s in olga_row[0].sources] == [("organization", "admin")]
    with pytest.raises(PermissionDenied):
        person_effective_access(
            principal=Principal.for_user(cast.alice), organization=cast.organization, user_id=cast.bob.pk
        )
    with pytest.raises(NotFound):
        person_effective_access(principal=olga, organization=cast.organization, user_id=cast.mallory.pk)

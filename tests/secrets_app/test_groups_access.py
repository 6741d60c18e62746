"""Groups in the one decision point: people inherit their groups' project roles (allows add up, a
deny from any role wins), and directory groups follow the directory."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import ActorType, AuditEvent
from audit.services import AuditActor
from secrets_app.errors import NotFound
from secrets_app.models import Group, GroupMembership, GroupProjectMembership, GroupSource
from secrets_app.services.group_sync import group_memberships_sync
from secrets_app.services.members import role_create
from tests.secrets_app.conftest import put, value_of

pytestmark = pytest.mark.django_db
SYSTEM = AuditActor(type=ActorType.SYSTEM, id="test", label="test")


def _group(cast: Any, slug: str, **fields: Any) -> Group:
    return Group.objects.create(organization=cast.organization, slug=slug, name=slug, **fields)


def test_a_person_gets_the_project_role_of_their_group(cast: Any) -> None:
    put(cast.scope(cast.alice), "DB", "s3cret", env="prod")
    with pytest.raises(NotFound):
        value_of(cast.scope(cast.charlie), "DB", env="prod")
    readers = _group(cast, "readers")
    GroupProjectMembership.objects.create(project=cast.project, group=readers, builtin_role="member")
    GroupMembership.objects.create(group=readers, user=cast.charlie)

    scope = cast.scope(cast.charlie)
    assert scope.access.role == "member"
    assert value_of(scope, "DB", env="prod") == "s3cret"


def test_own_and_group_roles_add_up_and_a_deny_from_either_wins(cast: Any) -> None:
    alice = cast.scope(cast.alice)
    role_create(
        scope=alice,
        slug="no-prod-values",
        name="No prod values",
        rules=[{"effect": "deny", "action": "secrets.read_value", "environments": ["prod"]}],
    )
    ops = _group(cast, "ops")
    GroupProjectMembership.objects.create(
        project=cast.project, group=ops, custom_role=cast.project.roles.get(slug="no-prod-values")
    )
    GroupMembership.objects.create(group=ops, user=cast.bob)  # bob is a member directly

    access = cast.scope(cast.bob).access
    assert access.can("secrets.read_value", environment="dev", path="/", tags=[])
    assert not access.can("secrets.read_value", environment="prod", path="/", tags=[])
    assert access.role == "member"


def test_a_group_admin_role_makes_an_admin(cast: Any) -> None:
    admins = _group(cast, "admins")
    GroupProjectMembership.objects.create(project=cast.project, group=admins, builtin_role="admin")
    GroupMembership.objects.create(group=admins, user=cast.dave)  # a viewer directly
    assert cast.scope(cast.dave).access.role == "admin"


def test_another_organizations_group_grants_nothing(cast: Any) -> None:
    evil = Group.objects.create(organization=cast.other_project.organization, slug="evil", name="evil")
    GroupProjectMembership.objects.create(project=cast.other_project, group=evil, builtin_role="admin")
    GroupMembership.objects.create(group=evil, user=cast.charlie)
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_list_for_principal

    assert [project.slug for project in project_list_for_principal(Principal.for_user(cast.charlie))] == ["evil"]
    assert cast.scope(cast.charlie).access.role == "no-access"


def test_directory_groups_follow_the_directory_and_leave_other_groups_alone(cast: Any) -> None:
    engineers = _group(cast, "engineers", source=GroupSource.IDP, external_id="aad-1111")
    _group(cast, "finance", source=GroupSource.IDP, external_id="aad-2222")
    local = _group(cast, "local-team")
    GroupMembership.objects.create(group=local, user=cast.erin)

    joined, left = group_memberships_sync(
        user=cast.erin,
        organization=cast.organization,
        source=GroupSource.IDP,
        external_ids=["aad-1111", "aad-unmapped"],
        actor=SYSTEM,
    )
    assert (joined, left) == (["engineers"], [])
    joined, left = group_memberships_sync(
        user=cast.erin, organization=cast.organization, source=GroupSource.IDP, external_ids=["aad-2222"], actor=SYSTEM
    )
    assert (joined, left) == (["finance"], ["engineers"])
    assert set(GroupMembership.objects.filter(user=cast.erin).values_list("group__slug", flat=True)) == {
        "finance",
        "local-team",
    }
    assert not engineers.memberships.exists()
    actions = list(AuditEvent.objects.filter(resource_type="group").values_list("action", flat=True))
    assert actions.count("group.member_added") == 2 and actions.count("group.member_removed") == 1

"""Groups of an organization, their people and project roles, and a person's effective access with
where each grant comes from. Organization views are for org admins; a project's groups for anyone
holding ``members.read`` there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from secrets_app.errors import NotFound
from secrets_app.models import (
    Group,
    GroupMembership,
    GroupProjectMembership,
    Organization,
    OrganizationMembership,
    Project,
    ProjectMembership,
)
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, is_org_admin, org_admin_require, project_access


def _org_admin_read(principal: Principal, organization: Organization, resource_id: str = "") -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action="organization.read_groups",
        resource_type="group",
        resource_id=resource_id,
        message="Only organization admins can see groups",
    )


def group_list(*, principal: Principal, organization: Organization) -> list[Group]:
    """The organization's groups by slug, each with ``member_count`` and ``project_count``."""
    _org_admin_read(principal, organization)
    return list(
        Group.objects.filter(organization=organization)
        .annotate(
            member_count=Count("memberships", distinct=True), project_count=Count("project_memberships", distinct=True)
        )
        .order_by("slug")
    )


@dataclass
class GroupDetail:
    group: Group
    members: list[GroupMembership]
    projects: list[GroupProjectMembership]


def group_detail(*, principal: Principal, organization: Organization, group_ref: str) -> GroupDetail:
    """One group with its people (by e-mail) and its project roles (by project name)."""
    from secrets_app.services.groups import group_find

    _org_admin_read(principal, organization, group_ref)
    group = group_find(organization, group_ref)
    return GroupDetail(
        group=group,
        members=list(group.memberships.select_related("user").order_by("user__email")),
        projects=list(
            group.project_memberships.select_related("project", "custom_role").order_by("project__name", "project_id")
        ),
    )


def project_group_list(scope: ProjectScope) -> list[GroupProjectMembership]:
    """The groups holding a role in the project, each with ``member_count``. Requires ``members.read``."""
    require(scope, "members.read")
    return list(
        GroupProjectMembership.objects.filter(project=scope.project)
        .select_related("group", "custom_role")
        .prefetch_related("custom_role__rules")
        .annotate(member_count=Count("group__memberships", distinct=True))
        .order_by("group__slug")
    )


def project_group_candidates(scope: ProjectScope) -> list[Group]:
    """Groups of the project's organization not yet holding a role here (for the add form)."""
    require(scope, "members.read")
    return list(
        Group.objects.filter(organization_id=scope.project.organization_id)
        .exclude(project_memberships__project=scope.project)
        .order_by("slug")
    )


@dataclass
class AccessSource:
    """One grant: ``kind`` is ``direct``, ``group`` or ``organization`` (org admins administer all)."""

    kind: str
    role: str
    group: Group | None = None
    name: str = ""  # what people read: a custom role's name (empty: show ``role``)


def _role_name(membership: Any) -> str:
    return membership.custom_role.name if membership.custom_role_id and membership.custom_role else ""


@dataclass
class ProjectAccessRow:
    project: Project
    sources: list[AccessSource] = field(default_factory=list)
    role: str = "no-access"  # the resulting access, as the decision point labels it
    rule_count: int = 0


@dataclass
class EffectiveAccess:
    user: Any
    is_org_admin: bool
    groups: list[GroupMembership]
    projects: list[ProjectAccessRow]


def person_effective_access(*, principal: Principal, organization: Organization, user_id: int) -> EffectiveAccess:
    """For each project of the organization the person reaches: their direct role, each group role,
    and the resulting access decided by the one decision point. Org admins only (and the person)."""
    if principal.user_id != user_id:
        _org_admin_read(principal, organization, str(user_id))
    membership = (
        OrganizationMembership.objects.filter(organization=organization, user_id=user_id).select_related("user").first()
    )
    if membership is None:
        raise NotFound("No such person in this organization")
    user = membership.user
    person = Principal.for_user(user)
    admin = is_org_admin(person, organization.pk)
    rows: dict[int, ProjectAccessRow] = {}
    projects = Project.objects.filter(organization=organization).order_by("name")
    by_id = {project.pk: project for project in projects}
    if admin:
        for project in projects:
            rows[project.pk] = ProjectAccessRow(project, [AccessSource("organization", "admin")])
    for direct in ProjectMembership.objects.filter(project__organization=organization, user=user).select_related(
        "custom_role"
    ):
        rows.setdefault(direct.project_id, ProjectAccessRow(by_id[direct.project_id])).sources.append(
            AccessSource("direct", direct.role_slug, name=_role_name(direct))
        )
    for granted in (
        GroupProjectMembership.objects.filter(project__organization=organization, group__memberships__user=user)
        .select_related("group", "custom_role")
        .order_by("group__slug")
    ):
        rows.setdefault(granted.project_id, ProjectAccessRow(by_id[granted.project_id])).sources.append(
            AccessSource("group", granted.role_slug, granted.group, name=_role_name(granted))
        )
    result = []
    for project_id in sorted(rows, key=lambda pk: (by_id[pk].name, pk)):
        row = rows[project_id]
        access = project_access(person, row.project)
        row.role, row.rule_count = access.role, len(access.rules)
        result.append(row)
    groups = list(
        GroupMembership.objects.filter(user=user, group__organization=organization)
        .select_related("group")
        .order_by("group__slug")
    )
    return EffectiveAccess(user=user, is_org_admin=admin, groups=groups, projects=result)

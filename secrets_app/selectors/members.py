"""Project members and roles, for people allowed to list them."""

from __future__ import annotations

from dataclasses import dataclass

from secrets_app.models import BuiltinRole, ProjectMembership, Role
from secrets_app.policy import BUILTIN_RULES, Rule
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope, role_rules

BUILTIN_DESCRIPTIONS = {
    BuiltinRole.ADMIN: "Everything, including members, roles and project settings.",
    BuiltinRole.MEMBER: "Read and write secrets, folders and imports in every environment; read the audit log.",
    BuiltinRole.VIEWER: "List secret names and metadata. Cannot read values.",
    BuiltinRole.NO_ACCESS: "Nothing: the project stays invisible.",
}


@dataclass
class RoleSummary:
    slug: str
    name: str
    description: str
    builtin: bool
    rules: list[Rule]
    member_count: int = 0


def member_list(scope: ProjectScope) -> list[ProjectMembership]:
    """Members of the project, by email. Requires ``members.read``."""
    require(scope, "members.read")
    return list(
        ProjectMembership.objects.filter(project=scope.project)
        .select_related("user", "custom_role")
        .order_by("user__email", "id")
    )


def role_list(scope: ProjectScope) -> list[RoleSummary]:
    """Built-in roles, then the project's custom roles with their rules. Requires ``roles.read``."""
    require(scope, "roles.read")
    roles = [
        RoleSummary(
            slug=choice.value,
            name=choice.label,
            description=BUILTIN_DESCRIPTIONS[choice],
            builtin=True,
            rules=list(BUILTIN_RULES[choice.value]),
        )
        for choice in BuiltinRole
    ]
    for role in Role.objects.filter(project=scope.project).prefetch_related("rules", "memberships").order_by("slug"):
        roles.append(
            RoleSummary(
                slug=role.slug,
                name=role.name,
                description=role.description,
                builtin=False,
                rules=list(role_rules(role)),
                member_count=len(role.memberships.all()),
            )
        )
    return roles

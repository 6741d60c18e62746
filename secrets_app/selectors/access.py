"""Which projects a principal sees, and what it may do in each. The one place access is decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import Outcome
from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, NotFound
from secrets_app.models import IdentityProjectMembership, OrganizationMembership, OrgRole, Project, ProjectMembership
from secrets_app.permissions import BUILTIN_RULES, ProjectAccess, Rule
from secrets_app.principals import Principal


def _admin_org_ids(principal: Principal) -> list[int]:
    if principal.kind != "user":
        return []
    return list(
        OrganizationMembership.objects.filter(user_id=principal.id, role=OrgRole.ADMIN).values_list(
            "organization_id", flat=True
        )
    )


def project_list_for_principal(principal: Principal, *, admin_org_ids: list[int] | None = None) -> QuerySet[Project]:
    """Projects the principal is a member of, plus every project of organizations it administers."""
    if principal.kind == "user" and principal.is_superuser:
        return Project.objects.select_related("organization").order_by("name")
    if principal.kind == "identity":
        # Identity memberships are their own table: never those of a person sharing the numeric id.
        identity_of = IdentityProjectMembership.objects.filter(identity_id=principal.id).exclude(
            builtin_role="no-access"
        )
        return (
            Project.objects.filter(id__in=identity_of.values("project_id"), organization_id=principal.organization_id)
            .select_related("organization")
            .order_by("name")
        )
    member_of = ProjectMembership.objects.filter(user_id=principal.id).exclude(builtin_role="no-access")
    return (
        Project.objects.filter(
            Q(id__in=member_of.values("project_id"))
            | Q(organization_id__in=admin_org_ids if admin_org_ids is not None else _admin_org_ids(principal))
        )
        .select_related("organization")
        .order_by("name")
    )


@dataclass(frozen=True)
class ProjectScope:
    """A principal acting in one project, with its access decided once for the request."""

    principal: Principal
    project: Project
    access: ProjectAccess

    def audit_actor(self) -> AuditActor:
        return self.principal.audit_actor(self.access.role)

    def audit(self, action: str, *, outcome: str = Outcome.ALLOW, **fields: Any) -> None:
        """Record *action* by this principal in this project (inside the caller's transaction).
        *fields* are ``audit_record``'s: environment, path, resource_type, resource_id, metadata."""
        audit_record(
            action=action,
            actor=self.audit_actor(),
            outcome=outcome,
            organization_id=self.project.organization_id,
            project_id=self.project.pk,
            **fields,
        )

    def audit_denial(self, requested_action: str, **fields: Any) -> None:
        """Record a refusal as ``permission.denied`` naming what was asked for."""
        self.audit("permission.denied", outcome=Outcome.DENY, metadata={"requested_action": requested_action}, **fields)


def project_scope(principal: Principal, project_ref: str) -> ProjectScope:
    project, access = project_get_for_principal(principal, project_ref)
    return ProjectScope(principal=principal, project=project, access=access)


def project_scope_for(principal: Principal, project: Project) -> ProjectScope:
    return ProjectScope(principal=principal, project=project, access=project_access(principal, project))


def project_get_for_principal(principal: Principal, project_ref: str) -> tuple[Project, ProjectAccess]:
    """Find a visible project by slug or public id. Raises NotFound for missing *and* invisible ones."""
    # The reader's admin organizations, looked up once for both the listing and the access check.
    admin_org_ids = _admin_org_ids(principal)
    projects = project_list_for_principal(principal, admin_org_ids=admin_org_ids)
    try:
        matches = list(projects.filter(public_id=uuid.UUID(str(project_ref))))
    except ValueError:
        matches = list(projects.filter(slug=project_ref))
    if not matches:
        raise NotFound("Project not found")
    if len(matches) > 1:
        raise Conflict("Several of your organizations have a project with this slug; use the project id")
    project = matches[0]
    return project, project_access(principal, project, admin_org_ids=admin_org_ids)


def project_access(principal: Principal, project: Project, *, admin_org_ids: list[int] | None = None) -> ProjectAccess:
    if principal.kind == "user" and principal.is_superuser:
        return ProjectAccess(project_id=project.pk, role="admin", rules=BUILTIN_RULES["admin"])
    if project.organization_id in (admin_org_ids if admin_org_ids is not None else _admin_org_ids(principal)):
        return ProjectAccess(project_id=project.pk, role="admin", rules=BUILTIN_RULES["admin"])
    memberships = (
        IdentityProjectMembership.objects.filter(project=project, identity_id=principal.id)
        if principal.kind == "identity"
        else ProjectMembership.objects.filter(project=project, user_id=principal.id)
    )
    membership = memberships.select_related("custom_role").prefetch_related("custom_role__rules").first()
    if membership is None:
        return ProjectAccess(project_id=project.pk, role="no-access", rules=())
    if membership.custom_role is not None:
        rules = tuple(
            Rule(
                effect=rule.effect,
                action=rule.action,
                environments=frozenset(rule.environments or []),
                path=rule.path or "/**",
                tags=frozenset(rule.tags or []),
            )
            for rule in membership.custom_role.rules.all()
        )
        return ProjectAccess(project_id=project.pk, role=membership.custom_role.slug, rules=rules)
    return ProjectAccess(
        project_id=project.pk, role=membership.builtin_role, rules=BUILTIN_RULES[membership.builtin_role]
    )

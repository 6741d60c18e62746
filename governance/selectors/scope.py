"""Whose governance figures a caller may see: the one place the dashboard decides it.

Organization level: the caller must belong to the organization (404 otherwise, like a missing
one); an org admin sees every project, anyone else only the projects where the permission decision
point allows ``governance.read``. Project level: ``project_scope`` (404 for a project the caller
cannot see) and ``require(…, "governance.read")`` (403, audited, for a member without it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from secrets_app.models import Organization, Project
from secrets_app.policy import ProjectAccess
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import (
    admin_organization_ids,
    project_access,
    project_list_for_principal,
    project_scope,
)
from secrets_app.services.people import organization_get_for_principal

ACTION = "governance.read"


@dataclass(frozen=True)
class DashboardScope:
    """The projects whose figures one caller sees. ``project`` is set for a project's dashboard;
    ``whole_organization`` when the caller sees every project (an org admin): then the
    organization's own snapshot row holds its trends."""

    organization: Organization
    projects: tuple[Project, ...]
    whole_organization: bool
    project: Project | None = None
    access: ProjectAccess | None = None  # the caller's, in ``project``
    project_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "project_ids", tuple(p.pk for p in self.projects))


def organization_dashboard_scope(principal: Principal, organization: str | Organization) -> DashboardScope:
    """NotFound unless the caller belongs to the organization. Machine identities have no
    organization dashboard (they see a project's, with ``governance.read`` there)."""
    found = (
        organization
        if isinstance(organization, Organization)
        else organization_get_for_principal(principal, organization)
    )
    admin_ids = admin_organization_ids(principal)
    candidates = [
        project
        for project in project_list_for_principal(principal, admin_org_ids=admin_ids)
        if project.organization_id == found.pk
    ]
    if principal.is_platform_superuser or found.pk in admin_ids:
        return DashboardScope(organization=found, projects=tuple(candidates), whole_organization=True)
    # A member: each project asked through the decision point (a few queries per project).
    readable = tuple(
        project for project in candidates if project_access(principal, project, admin_org_ids=admin_ids).can(ACTION)
    )
    return DashboardScope(organization=found, projects=readable, whole_organization=False)


def project_dashboard_scope(principal: Principal, project_ref: str) -> DashboardScope:
    """NotFound for a project the caller cannot see; PermissionDenied (audited) without
    ``governance.read`` there."""
    scope = project_scope(principal, project_ref)
    require(scope, ACTION)
    return DashboardScope(
        organization=scope.project.organization,
        projects=(scope.project,),
        whole_organization=False,
        project=scope.project,
        access=scope.access,
    )

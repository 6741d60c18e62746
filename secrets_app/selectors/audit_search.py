"""The audit log across every project the caller may audit (the API's ``/audit-events/``).

Reach: projects where the caller holds ``audit.read``, plus every event of organizations it
administers (their projects and organization-level events such as ``user.created``). Filtering is
``audit.selectors.audit_event_list``'s; reading is recorded as ``audit.log_read`` in the same
transaction, like the web viewer's reads (``audit_log.project_audit_page``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from audit.models import AuditEvent
from audit.selectors import audit_event_list
from audit.services import audit_record
from secrets_app.errors import ValidationFailed
from secrets_app.guard import require
from secrets_app.models import Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import (
    admin_organization_ids,
    organization_denial,
    project_list_for_principal,
    project_scope,
    project_scope_for,
)


@dataclass(frozen=True)
class AuditSearchPage:
    events: list[AuditEvent]
    count: int
    projects: dict[int, Project]  # the projects the page's events belong to, by id


@dataclass(frozen=True)
class _Reach:
    rows: Q
    project_id: int | None = None
    organization_id: int | None = None


def audit_reach(principal: Principal, project: str | None) -> _Reach:
    """Which events the caller may read: one project (*project*, NotFound when invisible,
    PermissionDenied without ``audit.read``), or all it may audit (PermissionDenied when none)."""
    if project:
        scope = project_scope(principal, project)  # NotFound when invisible
        require(scope, "audit.read")
        return _Reach(Q(project_id=scope.project.pk), scope.project.pk, scope.project.organization_id)
    if principal.is_platform_superuser:
        return _Reach(Q())
    admin_orgs = admin_organization_ids(principal)
    project_ids = [
        candidate.pk
        for candidate in project_list_for_principal(principal).exclude(organization_id__in=admin_orgs)
        if project_scope_for(principal, candidate).access.can("audit.read")
    ]
    if not admin_orgs and not project_ids:
        raise organization_denial(
            principal,
            organization_id=None,
            requested_action="audit.read",
            resource_type="audit",
            message="You may not read the audit log of any project",
        )
    organization_id = admin_orgs[0] if len(admin_orgs) == 1 and not project_ids else None
    return _Reach(Q(organization_id__in=admin_orgs) | Q(project_id__in=project_ids), None, organization_id)


def audit_event_search(
    principal: Principal, *, project: str | None, filters: Mapping[str, Any], limit: int, offset: int = 0
) -> AuditSearchPage:
    """A page of the events the caller may read, newest first. *project* (slug or id) narrows to one
    project (NotFound when invisible, PermissionDenied without ``audit.read`` there); *filters* are
    those of ``audit_event_list``. Raises PermissionDenied when the caller may audit nothing."""
    reach = audit_reach(principal, project)
    try:
        events = audit_event_list(project_ids=None, organization_id=None, filters=filters).filter(reach.rows)
    except ValueError as exc:
        raise ValidationFailed("filters", str(exc)) from None
    with transaction.atomic():
        count = events.count()
        page = list(events[offset : offset + limit])
        audit_record(
            action="audit.log_read",
            actor=principal.audit_actor(),
            organization_id=reach.organization_id,
            project_id=reach.project_id,
            resource_type="audit",
            resource_id=project or "",
            metadata={
                "filters": {key: str(value) for key, value in filters.items() if value not in (None, "")},
                "count": len(page),
                "total": count,
                "offset": offset,
            },
        )
    projects = Project.objects.filter(pk__in={event.project_id for event in page if event.project_id})
    return AuditSearchPage(events=page, count=count, projects={item.pk: item for item in projects})

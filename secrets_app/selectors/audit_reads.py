"""Who may read which audit events, and the record of every read (``audit.log_read``, same transaction).

Filtering is ``audit.selectors.audit_event_list``'s (``audit`` imports no other app, so it cannot decide project
permissions); this module decides the reach and records the read:

* ``project_audit_page`` / ``project_audit_actions``: one project's log, as the web viewer pages it (``audit.read``).
* ``audit_event_search``: every project the caller may audit plus the organization-level events of organizations
  it administers (the API's ``/audit-events/``, the export).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from audit.models import AuditEvent
from audit.selectors import audit_event_actions, audit_event_list
from audit.services import audit_record
from secrets_app.errors import ValidationFailed
from secrets_app.models import Project
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import (
    ProjectScope,
    admin_organization_ids,
    organization_denial,
    project_list_for_principal,
    project_scope,
    project_scope_for,
)

PAGE_SIZE = 50


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_cursor: int | None  # the id of the last event shown, when more follow


def project_audit_page(
    scope: ProjectScope, *, filters: Mapping[str, Any], before: int | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """Newest-first events of the project matching *filters*, *limit* at a time. *before* is the
    cursor of the previous page. Requires ``audit.read``; bad filter values raise ValidationFailed."""
    require(scope, "audit.read")
    try:
        events = audit_event_list(
            project_ids=[scope.project.pk], organization_id=scope.project.organization_id, filters=filters
        )
    except ValueError as exc:
        raise ValidationFailed("filters", str(exc)) from None
    if before is not None:
        anchor = AuditEvent.objects.filter(project_id=scope.project.pk, pk=before).only("id", "occurred_at").first()
        if anchor is not None:
            # Same order as the list (occurred_at desc, id desc): strictly after the anchor.
            events = events.filter(
                Q(occurred_at__lt=anchor.occurred_at) | Q(occurred_at=anchor.occurred_at, id__lt=anchor.pk)
            )
    rows = list(events[: limit + 1])
    shown = rows[:limit]
    with transaction.atomic():
        scope.audit(
            "audit.log_read",
            resource_type="audit",
            resource_id=scope.project.slug,
            metadata={
                "filters": {key: str(value) for key, value in filters.items() if value not in (None, "")},
                "count": len(shown),
                "page_after": before,
            },
        )
    return AuditPage(events=shown, next_cursor=shown[-1].pk if len(rows) > limit else None)


def project_audit_actions(scope: ProjectScope) -> list[str]:
    """Action names that occur in the project's log (for the filter menu). Requires ``audit.read``."""
    require(scope, "audit.read")
    return audit_event_actions(project_ids=[scope.project.pk], organization_id=scope.project.organization_id)


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

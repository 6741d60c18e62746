"""The project audit log as the web viewer reads it: permission check, filters, keyset pages.

``audit.selectors.audit_event_list`` does the filtering; this module decides who may read which
project's events and records the read itself (``audit.log_read``), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from audit.models import AuditEvent
from audit.selectors import audit_event_actions, audit_event_list
from secrets_app.errors import ValidationFailed
from secrets_app.guard import require
from secrets_app.selectors.access import ProjectScope

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

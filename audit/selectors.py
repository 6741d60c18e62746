"""Reading the audit log (viewer, API, export).

The caller decides what its actor may see and passes that scope in: ``audit`` imports no other app,
so it cannot evaluate project permissions itself. Reading the audit log is itself an auditable
action: the calling view or API records that read, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import ActorType, AuditEvent

FILTER_KEYS = frozenset({"action", "actor", "outcome", "environment", "resource", "since", "until"})


def audit_event_list(
    *,
    project_ids: list[int] | None,
    organization_id: int | None,
    filters: Mapping[str, Any],
) -> QuerySet[AuditEvent]:
    """Audit events in scope, newest first, narrowed by ``filters``.

    Scope: ``organization_id`` limits to that organization; ``project_ids`` limits to those projects
    (an empty list gives nothing, and organization-level events without a project are excluded);
    ``None`` means "no limit on that axis": pass it only for callers allowed to see everything on it.

    Filters (empty values are ignored; an unknown key raises ``ValueError`` so a typo never silently
    widens a search):
      ``action``: exact name, or a prefix when it ends with ``.`` or ``*`` (``secret.``, ``secret.*``);
      ``actor``: ``type:id`` exact (``user:7``, ``identity:7``: a person and a machine with the same
      number are different actors), or a case-insensitive part of the actor label;
      ``outcome``, ``environment``: exact;
      ``resource``: ``type:id`` exact, or a resource id (exact) or part of the path;
      ``since`` / ``until``: datetimes or ISO 8601 strings (naive means UTC), both inclusive.
    """
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise ValueError(f"unknown audit filter(s): {', '.join(sorted(unknown))}")
    events = AuditEvent.objects.all()
    if organization_id is not None:
        events = events.filter(organization_id=organization_id)
    if project_ids is not None:
        events = events.filter(project_id__in=project_ids)
    values = {key: value for key, value in filters.items() if value not in (None, "")}

    if action := values.get("action"):
        action = str(action)
        if action.endswith("*"):
            action = action[:-1]
            events = events.filter(action__startswith=action)
        elif action.endswith("."):
            events = events.filter(action__startswith=action)
        else:
            events = events.filter(action=action)
    if actor := values.get("actor"):
        events = events.filter(_actor_q(str(actor)))
    if outcome := values.get("outcome"):
        events = events.filter(outcome=str(outcome))
    if environment := values.get("environment"):
        events = events.filter(environment=str(environment))
    if resource := values.get("resource"):
        events = events.filter(_resource_q(str(resource)))
    if (since := values.get("since")) is not None:
        events = events.filter(occurred_at__gte=_as_datetime(since, "since"))
    if (until := values.get("until")) is not None:
        events = events.filter(occurred_at__lte=_as_datetime(until, "until"))
    return events.order_by("-occurred_at", "-id")


def audit_event_actions(*, project_ids: list[int] | None = None, organization_id: int | None = None) -> list[str]:
    """The distinct action names within the same scope as ``audit_event_list``, sorted (for a filter menu)."""
    events = AuditEvent.objects.all()
    if organization_id is not None:
        events = events.filter(organization_id=organization_id)
    if project_ids is not None:
        events = events.filter(project_id__in=project_ids)
    return list(events.order_by("action").values_list("action", flat=True).distinct())


def _actor_q(actor: str) -> Q:
    kind, sep, ident = actor.partition(":")
    if sep and kind in ActorType.values and ident:
        return Q(actor_type=kind, actor_id=ident)
    return Q(actor_label__icontains=actor)


def _resource_q(resource: str) -> Q:
    kind, sep, ident = resource.partition(":")
    if sep and kind and ident:
        return Q(resource_type=kind, resource_id=ident)
    return Q(resource_id=resource) | Q(path__icontains=resource)


def _as_datetime(value: Any, name: str) -> datetime:
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise ValueError(f"audit filter {name!r} is not an ISO 8601 date-time: {value!r}")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment

"""What the web audit viewer shows beside each event: the resource's name, and one event opened.

``resource_labels`` names every row's resource (secret key with environment:path, member's and
user's e-mail, identity's, group's, sync's and connection's name) in one query per resource kind
present on the page, never one per row. A resource that no longer exists is named from the
event's own metadata (most events record names) and marked deleted.

``project_audit_event`` opens one event of a project's log with exactly the page's permission
(``audit.read`` through the same ``project_audit_page`` rules); ``organization_audit_event`` the
same for the organization's log (org admins). Audit metadata holds names, ids and counts only,
never a value, so the detail shows it as recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q

from audit.models import AuditBlock, AuditEvent, chain_of
from secrets_app.errors import NotFound
from secrets_app.models import Group, MachineIdentity, Secret
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.audit_export import _organization_events
from syncs.models import AppConnection, SecretSync


@dataclass(frozen=True)
class ResourceLabel:
    """How a row names its resource: *name* (None: nothing better than the raw id), *where*
    (``environment:path`` of a secret), *deleted* (the resource is gone; the name is the event's)."""

    name: str | None
    where: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class EventDetail:
    event: AuditEvent
    label: ResourceLabel | None
    metadata: list[tuple[str, Any]]
    block_sequence: int | None  # the sealed block holding the event (None: not sealed yet)
    block_hash: str


# resource type -> (model, lookup field, the field naming it); looked up by public id (uuid).
_BY_PUBLIC_ID: dict[str, tuple[Any, str]] = {
    "identity": (MachineIdentity, "name"),
    "group": (Group, "name"),
    "sync": (SecretSync, "name"),
    "connection": (AppConnection, "name"),
}
_METADATA_NAMES = ("key", "email", "name", "identity", "sync", "connection", "group")


def _from_metadata(event: AuditEvent) -> str | None:
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    for field in _METADATA_NAMES:
        value = metadata.get(field)
        if isinstance(value, str) and value:
            return value
    keys = metadata.get("keys")
    if isinstance(keys, list) and len(keys) == 1 and isinstance(keys[0], str):
        return keys[0]
    return None


def _uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _live_secrets(events: list[AuditEvent]) -> set[tuple[int, str, str, str]]:
    wanted = [e for e in events if e.resource_type == "secret" and e.resource_id and e.project_id]
    if not wanted:
        return set()
    query = Q()
    for event in wanted:
        query |= Q(project_id=event.project_id, key=event.resource_id)
    rows = Secret.objects.filter(query, deleted_at__isnull=True).values_list(
        "project_id", "key", "environment__slug", "folder__path"
    )
    return {(row[0], row[1], row[2], row[3]) for row in rows}


def resource_labels(events: Iterable[AuditEvent]) -> dict[int, ResourceLabel]:
    """Event id -> how to name its resource, for events with a resource. A bounded number of
    queries (one per kind present), whatever the number of events."""
    events = [event for event in events if event.resource_type]
    labels: dict[int, ResourceLabel] = {}
    live_secrets = _live_secrets(events)
    user_ids = {int(e.resource_id) for e in events if e.resource_type in ("member", "user") and e.resource_id.isdigit()}
    emails = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email")) if user_ids else {}
    by_kind: dict[str, dict[str, str]] = {}
    for kind, (model, field) in _BY_PUBLIC_ID.items():
        ids = {_uuid(e.resource_id) for e in events if e.resource_type == kind} - {None}
        if ids:
            by_kind[kind] = {
                str(pk): name for pk, name in model.objects.filter(public_id__in=ids).values_list("public_id", field)
            }
    for event in events:
        labels[event.pk] = _label(event, live_secrets, emails, by_kind)
    return labels


def _label(
    event: AuditEvent,
    live_secrets: set[tuple[int, str, str, str]],
    emails: dict[int, str],
    by_kind: dict[str, dict[str, str]],
) -> ResourceLabel:
    kind, ident = event.resource_type, event.resource_id
    recorded = _from_metadata(event)
    if kind == "secret":
        key = ident or recorded
        if key is None:
            count = (event.metadata or {}).get("count") if isinstance(event.metadata, dict) else None
            return ResourceLabel(f"{count} secrets" if isinstance(count, int) else None)
        where = f"{event.environment}:{event.path or '/'}" if event.environment else ""
        if event.environment:
            alive = (event.project_id or 0, key, event.environment, event.path or "/") in live_secrets
        else:
            alive = any(row[0] == event.project_id and row[1] == key for row in live_secrets)
        return ResourceLabel(key, where=where, deleted=not alive)
    if kind in ("member", "user"):
        email = emails.get(int(ident)) if ident.isdigit() else None
        if email:
            return ResourceLabel(email)
        if recorded or ident.isdigit():
            return ResourceLabel(recorded or f"{kind} {ident}", deleted=ident.isdigit())
        return ResourceLabel(ident or None)  # e.g. an e-mail recorded as the id of a refused invite
    if kind in _BY_PUBLIC_ID:
        name = by_kind.get(kind, {}).get(_uuid(ident) or "")
        if name:
            return ResourceLabel(name)
        return ResourceLabel(recorded or None, deleted=bool(_uuid(ident)))
    return ResourceLabel(recorded or (ident or None))


def _detail(event: AuditEvent) -> EventDetail:
    block = (
        AuditBlock.objects.filter(
            chain=chain_of(event.organization_id), first_event_id__lte=event.pk, last_event_id__gte=event.pk
        )
        .only("sequence", "block_hash")
        .first()
    )
    metadata = event.metadata if isinstance(event.metadata, dict) else {"metadata": event.metadata}
    return EventDetail(
        event=event,
        label=resource_labels([event]).get(event.pk),
        metadata=sorted(metadata.items()),
        block_sequence=block.sequence if block else None,
        block_hash=block.block_hash if block else "",
    )


def project_audit_event(scope: ProjectScope, event_id: int) -> EventDetail:
    """One event of the project's log: the permission is the log page's (``audit.read``);
    NotFound for an event of another project."""
    require(scope, "audit.read")
    event = AuditEvent.objects.filter(project_id=scope.project.pk, pk=event_id).first()
    if event is None:
        raise NotFound("No such audit event in this project")
    return _detail(event)


def organization_audit_event(principal: Principal, slug: str, event_id: int) -> EventDetail:
    """One event of the organization's log (its own or its projects'): org admins only, decided
    as the organization's log page decides it (NotFound for outsiders, PermissionDenied for members)."""
    _, events = _organization_events(principal, slug, filters={}, scope_all=True)
    event = events.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such audit event in this organization")
    return _detail(event)

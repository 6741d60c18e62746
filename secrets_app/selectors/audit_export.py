"""Audit exports (API, web UI, ``manage.py audit_export``) and the organization audit log.

Scope is decided here, as for the list (``audit_search``): a project's events need ``audit.read``
there; an organization's own events (logins, people, identities, connections, notification
channels: rows with the organization and no project) need an org admin, who may also ask for every
event of the organization's projects (``scope_all``). Each export records one ``audit.exported``
event (format, filters, row count) before the first byte is sent, and exports the rows up to and
including that event: a consistent snapshot that names its own export.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.export import FORMATS, audit_export_stream
from audit.models import AuditEvent
from audit.selectors import audit_event_list
from audit.services import AuditActor, audit_record
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import Organization, Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require
from secrets_app.selectors.audit_reads import AuditSearchPage, audit_reach
from secrets_app.services.people import organization_get_for_principal

EXPORT_FORMATS = tuple(FORMATS)


@dataclass(frozen=True)
class AuditExport:
    lines: Iterator[str]
    content_type: str
    filename: str
    count: int


def _given(filters: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in filters.items() if value not in (None, "")}


def _filtered(filters: Mapping[str, Any], **scope: Any) -> QuerySet[AuditEvent]:
    try:
        return audit_event_list(filters=filters, **scope)
    except ValueError as exc:
        raise ValidationFailed("filters", str(exc)) from None


def _export(
    events: QuerySet[AuditEvent],
    *,
    actor: AuditActor,
    export_format: str,
    filters: Mapping[str, Any],
    organization_id: int | None,
    project_id: int | None,
    label: str,
    scope: str,
) -> AuditExport:
    if export_format not in FORMATS:
        raise ValidationFailed("format", f"must be one of {', '.join(EXPORT_FORMATS)}")
    with transaction.atomic():
        count = events.count()
        record = audit_record(
            action="audit.exported",
            actor=actor,
            organization_id=organization_id,
            project_id=project_id,
            resource_type="audit",
            resource_id=label,
            metadata={"format": export_format, "filters": _given(filters), "count": count, "scope": scope},
        )
    _, content_type, extension = FORMATS[export_format]
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return AuditExport(
        lines=audit_export_stream(events.filter(id__lte=record.pk), export_format=export_format),
        content_type=content_type,
        filename=f"strongroom-audit-{label or 'all'}-{stamp}.{extension}",
        count=count,
    )


def audit_export_for_principal(
    principal: Principal, *, project: str | None, filters: Mapping[str, Any], export_format: str
) -> AuditExport:
    """The events ``GET /audit-events/`` would list, as an export (same access rule and filters)."""
    reach = audit_reach(principal, project)
    events = _filtered(filters, project_ids=None, organization_id=None).filter(reach.rows)
    return _export(
        events,
        actor=principal.audit_actor(),
        export_format=export_format,
        filters=filters,
        organization_id=reach.organization_id,
        project_id=reach.project_id,
        label=project or "",
        scope="project" if project else "reachable",
    )


def _organization_events(
    principal: Principal, slug: str, *, filters: Mapping[str, Any], scope_all: bool
) -> tuple[Organization, QuerySet[AuditEvent]]:
    organization = organization_get_for_principal(principal, slug)  # NotFound for outsiders
    org_admin_require(
        principal,
        organization.pk,
        requested_action="audit.read",
        resource_type="audit",
        resource_id=organization.slug,
        message="Only organization admins may read the organization's audit log",
    )
    events = _filtered(filters, project_ids=None, organization_id=organization.pk)
    if not scope_all:
        events = events.filter(project_id__isnull=True)
    return organization, events


def organization_audit_page(
    principal: Principal,
    slug: str,
    *,
    filters: Mapping[str, Any],
    scope_all: bool = False,
    limit: int = 50,
    offset: int = 0,
    before: int | None = None,
) -> tuple[Organization, AuditSearchPage]:
    """A page of the organization's events, newest first: its own (no project), or with
    ``scope_all`` also every event of its projects. Org admins only (NotFound for outsiders,
    PermissionDenied, audited, for members). *before* is a keyset cursor (an event id). The read
    is recorded as ``audit.log_read``."""
    organization, events = _organization_events(principal, slug, filters=filters, scope_all=scope_all)
    if before is not None:
        events = events.filter(id__lt=before)
    with transaction.atomic():
        count = events.count()
        page = list(events.order_by("-id")[offset : offset + limit])
        audit_record(
            action="audit.log_read",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="audit",
            resource_id=organization.slug,
            metadata={
                "filters": _given(filters),
                "scope": "all" if scope_all else "organization",
                "count": len(page),
                "total": count,
                "offset": offset,
            },
        )
    projects = Project.objects.filter(pk__in={event.project_id for event in page if event.project_id})
    return organization, AuditSearchPage(events=page, count=count, projects={item.pk: item for item in projects})


def organization_audit_export(
    principal: Principal, slug: str, *, filters: Mapping[str, Any], scope_all: bool = False, export_format: str
) -> AuditExport:
    """The organization's events (as ``organization_audit_page`` selects them) as an export."""
    organization, events = _organization_events(principal, slug, filters=filters, scope_all=scope_all)
    return _export(
        events,
        actor=principal.audit_actor(),
        export_format=export_format,
        filters=filters,
        organization_id=organization.pk,
        project_id=None,
        label=organization.slug,
        scope="all" if scope_all else "organization",
    )


OPERATOR = AuditActor(type="system", id="operator", label="manage.py audit_export")


def audit_export_for_operator(
    *, organization: str | None, project: str | None, filters: Mapping[str, Any], export_format: str
) -> AuditExport:
    """Every event (narrowed to an organization and/or project by slug) for an operator at the
    server: no login, recorded as the system."""
    organization_id = project_id = None
    if organization:
        found = Organization.objects.filter(slug=organization).first()
        if found is None:
            raise NotFound(f"no organization {organization!r}")
        organization_id = found.pk
    if project:
        projects = Project.objects.filter(slug=project)
        if organization_id is not None:
            projects = projects.filter(organization_id=organization_id)
        matches = list(projects[:2])
        if len(matches) != 1:
            raise NotFound(
                f"no project {project!r}" if not matches else f"project {project!r} is ambiguous: add --organization"
            )
        project_id, organization_id = matches[0].pk, matches[0].organization_id
    events = _filtered(filters, project_ids=[project_id] if project_id else None, organization_id=organization_id)
    return _export(
        events,
        actor=OPERATOR,
        export_format=export_format,
        filters=filters,
        organization_id=organization_id,
        project_id=project_id,
        label=project or organization or "",
        scope="operator",
    )

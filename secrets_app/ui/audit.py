"""The audit log viewers: a project's (``audit.read``) and an organization's (org admins), with
filters that apply as they change (hx-get + hx-push-url, so a filtered view is a shareable URL),
resources named (``audit_viewer.resource_labels``), rows that open into the event's detail (same
permission as the page), "load more" pages and streamed exports of what the filters select.
Every page read is recorded (``audit.log_read``), every export too (``audit.exported``)."""

from __future__ import annotations

from typing import Any

from django.forms import Select
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.models import Organization
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.audit_export import (
    AuditExport,
    audit_export_for_principal,
    organization_audit_export,
    organization_audit_page,
)
from secrets_app.selectors.audit_reads import project_audit_actions, project_audit_page
from secrets_app.selectors.audit_viewer import organization_audit_event, project_audit_event, resource_labels
from secrets_app.selectors.projects import environment_list
from secrets_app.services.audit_settings import audit_retention_set
from secrets_app.ui.forms import AuditExportForm, AuditFilterForm, OrganizationAuditFilterForm
from secrets_app.ui.framework import is_htmx, org_view, page_or_partial, principal_of, project_view

PAGE = "pages/audit.html"
ORG_PAGE = "pages/org_audit.html"
ORG_PAGE_SIZE = 50
DETAIL = "components/audit_event_detail.html"
DETAIL_PAGE = "pages/audit_event.html"
# Filters apply as they change: selects and dates on change, text after typing pauses. Each input
# gets the page's hx-get and inherits hx-target/hx-push-url/hx-include="closest form" from the form,
# so each request carries every filter and the URL keeps them.
_LIVE = {"select": "change", "date": "change", "text": "keyup changed delay:400ms, change"}


def _live_filters(form: AuditFilterForm, url: str) -> AuditFilterForm:
    for field in form.fields.values():
        kind = getattr(field.widget, "input_type", "")
        trigger = _LIVE.get(kind or "") or (_LIVE["select"] if isinstance(field.widget, Select) else None)
        if kind == "hidden" or trigger is None:
            continue
        field.widget.attrs.update({"hx-get": url, "hx-trigger": trigger})
    return form


def _query_without(request: HttpRequest, *names: str) -> str:
    """The current filters as a query string, without *names* and without empty fields."""
    query = QueryDict(mutable=True)
    for name, values in request.GET.lists():
        kept = [value for value in values if value]
        if name not in names and kept:
            query.setlist(name, kept)
    return query.urlencode()


def _streamed(export: AuditExport) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.lines, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _export_format(request: HttpRequest) -> str:
    form = AuditExportForm(request.GET)
    if not form.is_valid():
        raise ValidationFailed("format", "must be jsonl, csv or cef")
    return str(form.cleaned_data["format"])


def _valid_filters(form: AuditFilterForm) -> dict[str, Any]:
    if not form.is_valid():
        raise ValidationFailed("filters", "some filter values are not valid")
    return form.filters()


@require_GET
@project_view
def audit_log(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Full page; ``#results`` when filters change; ``#more_rows`` for the next page (``before``)."""
    form = AuditFilterForm(request.GET or None, environments=[env.slug for env in environment_list(scope)])
    _live_filters(form, request.path)
    valid = form.is_valid() if request.GET else True
    filters = form.filters() if valid and request.GET else {}
    before = form.cleaned_data.get("before") if valid and request.GET else None
    page = project_audit_page(scope, filters=filters, before=before) if valid else None
    labels = resource_labels(page.events) if page else {}
    context = {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "audit",
        "form": form,
        "page": page,
        "rows": [(event, labels.get(event.pk)) for event in page.events] if page else [],
        "query": _query_without(request, "before"),
        "actions": project_audit_actions(scope),
    }
    partial = None
    if is_htmx(request):
        partial = "more_rows" if before else "results"
    return page_or_partial(request, PAGE, context, partial=partial, status=200 if valid else 422)


@require_GET
@project_view
def audit_event(request: HttpRequest, scope: ProjectScope, event_id: int) -> HttpResponse:
    """One event opened (the row's htmx detail fragment, or a page without htmx): its metadata,
    request context and place in the hash chain. Exactly the page's permission (``audit.read``)."""
    detail = project_audit_event(scope, event_id)
    return render(request, DETAIL if is_htmx(request) else DETAIL_PAGE, {"detail": detail, "project": scope.project})


@require_GET
@org_view
def org_audit_event(request: HttpRequest, organization: Organization, event_id: int) -> HttpResponse:
    """One event of the organization's log opened; org admins only, as the page."""
    detail = organization_audit_event(principal_of(request), organization.slug, event_id)
    context = {"detail": detail, "organization": organization}
    return render(request, DETAIL if is_htmx(request) else DETAIL_PAGE, context)


@require_GET
@project_view
def audit_export(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The project's events the filters select, all of them, as a download (``?format=jsonl|csv|cef``)."""
    form = AuditFilterForm(request.GET, environments=[env.slug for env in environment_list(scope)])
    export = audit_export_for_principal(
        scope.principal, project=scope.project.slug, filters=_valid_filters(form), export_format=_export_format(request)
    )
    return _streamed(export)


@require_GET
@org_view
def org_audit_log(request: HttpRequest, organization: Organization) -> HttpResponse:
    """The organization's own events (sign-ins, people, identities, connections, channels), or with
    ``scope=all`` every project's too. Org admins only (403 page, audited, for members)."""
    context, valid, before = _org_audit_context(request, organization)
    partial = None
    if is_htmx(request):
        partial = "more_rows" if before else "results"
    return page_or_partial(request, ORG_PAGE, context, partial=partial, status=200 if valid else 422)


def _org_audit_context(request: HttpRequest, organization: Organization) -> tuple[dict[str, Any], bool, Any]:
    form = OrganizationAuditFilterForm(request.GET or None)
    _live_filters(form, request.path)
    valid = form.is_valid() if request.GET else True
    cleaned = form.cleaned_data if valid and request.GET else {}
    filters = form.filters() if cleaned else {}
    before = cleaned.get("before")
    scope_all = cleaned.get("scope") == "all"
    page = None
    if valid:
        _, page = organization_audit_page(
            principal_of(request),
            organization.slug,
            filters=filters,
            scope_all=scope_all,
            limit=ORG_PAGE_SIZE,
            before=before,
        )
    next_cursor = page.events[-1].pk if page and page.count > len(page.events) else None
    labels = resource_labels(page.events) if page else {}
    context = {
        "organization": organization,
        "nav": "org_audit",
        "form": form,
        "page": page,
        "rows": [(event, page.projects.get(event.project_id or 0), labels.get(event.pk)) for event in page.events]
        if page
        else [],
        "next_cursor": next_cursor,
        "scope_all": scope_all,
        "query": _query_without(request, "before"),
        "retention_days": organization.audit_retention_days,
    }
    return context, valid, before


@require_GET
@org_view
def org_audit_export(request: HttpRequest, organization: Organization) -> HttpResponse:
    """The organization's events the filters select, as a download. Org admins only."""
    form = OrganizationAuditFilterForm(request.GET)
    filters = _valid_filters(form)
    export = organization_audit_export(
        principal_of(request),
        organization.slug,
        filters=filters,
        scope_all=form.cleaned_data.get("scope") == "all",
        export_format=_export_format(request),
    )
    return _streamed(export)


@require_POST
@org_view
def org_audit_retention(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Change how long the organization's audit events are kept (org admins; audited)."""
    raw = request.POST.get("retention_days", "").strip()
    context: dict[str, Any] = {"organization": organization}
    if not is_htmx(request):
        context, _, _ = _org_audit_context(request, organization)
    context["retention_days"] = raw or organization.audit_retention_days
    status = 200
    try:
        days = int(raw) if raw.isdigit() else raw
        audit_retention_set(principal=principal_of(request), organization=organization, retention_days=days)
    except DomainError as exc:
        context["retention_error"] = exc.message.replace("retentionDays: ", "Days: ")
        status = exc.status
    else:
        context["retention_days"] = organization.audit_retention_days
        context["retention_notice"] = f"Audit events of {organization.name} are now kept {days} days."
    if not is_htmx(request) and status == 200:
        return redirect("ui:org_audit", organization.slug)
    return page_or_partial(request, ORG_PAGE, context, partial="retention", status=status)

"""The organization's "Azure DevOps estate" page: what the last scans found (filterable list of
groups, pipelines, service connections, secure files and projects), the findings by severity and
kind (each a link that filters the list), and the "Scan now" button whose status card polls every
2 s while the scan is queued or running and stops with HTTP 286, telling the page to refresh its
rows. Thin: reads through ``estate.selectors.inventory``, writes through ``estate.services.scans``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from estate.models import ACTIVE_SCAN_STATUSES, EstateScan
from estate.selectors.inventory import estate_summary, finding_list, resource_list, scan_get, scan_latest
from estate.services.scans import scan_request
from estate.ui.forms import EstateFilterForm, ScanStartForm
from estate.ui.views_common import (
    FINDING_LABELS,
    KIND_LABELS,
    SEVERITY_LABELS,
    SEVERITY_ORDER,
    counted,
    estate_view,
)
from secrets_app.errors import DomainError
from secrets_app.models import Organization
from secrets_app.ui.framework import is_htmx, page_or_partial, principal_of
from syncs.models import AppConnection, ConnectionKind

PAGE = "estate/estate.html"
PAGE_SIZE = 100
SCAN_ENDED_EVENT = "estate-scan-ended"
COUNT_LABELS = (
    ("projects", "Projects", "project"),
    ("variable_groups", "Variable groups", "variable_group"),
    ("pipelines", "Pipelines", "pipeline"),
    ("service_connections", "Service connections", "service_connection"),
    ("secure_files", "Secure files", "secure_file"),
    ("secret_variables", "Secret variables", ""),
)


def connections_of(organization: Organization) -> list[AppConnection]:
    """The organization's Azure DevOps connections (the caller was checked)."""
    return list(AppConnection.objects.filter(organization=organization, kind=ConnectionKind.AZURE_DEVOPS))


def scan_context(organization: Organization, scan: EstateScan | None) -> dict[str, Any]:
    """The status card: phase, projects done of total, requests, throttling; polls while active."""
    progress = dict(scan.progress or {}) if scan is not None else {}
    return {
        "organization": organization,
        "scan": scan,
        "scan_active": scan is not None and scan.status in ACTIVE_SCAN_STATUSES,
        "progress": progress,
        "projects_total": int(progress.get("projects_total") or 0),
        "projects_done": int(progress.get("projects_done") or 0),
    }


def summary_context(organization: Organization) -> dict[str, Any]:
    """The inventory figures and the open findings by severity and by kind, each a filter link."""
    summary = estate_summary(organization)
    counts = summary.get("counts") or {}
    home = reverse("estate:home", args=[organization.slug])
    return {
        "summary": summary,
        "figures": [
            {
                "key": key,
                "label": label,
                "value": int(counts.get(key) or 0),
                "url": f"{home}?{urlencode({'kind': kind})}" if kind else "",
            }
            for key, label, kind in COUNT_LABELS
        ],
        "by_severity": [
            {**row, "url": f"{home}?{urlencode({'severity': row['key']})}"}
            for row in counted(summary.get("findings_by_severity") or {}, SEVERITY_LABELS, SEVERITY_ORDER)
        ],
        "by_kind": [
            {**row, "url": f"{home}?{urlencode({'finding': row['key']})}"}
            for row in counted(summary.get("findings_by_kind") or {}, FINDING_LABELS)
        ],
        "open_findings": int(summary.get("open_findings") or 0),
    }


def rows_context(request: HttpRequest, organization: Organization, connections: list[AppConnection]) -> dict[str, Any]:
    form = EstateFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else EstateFilterForm().filters()
    connection = next(
        (c for c in connections if str(c.public_id) == (request.GET.get("connection") or "")),
        None,
    )
    rows = resource_list(organization, connection=connection, **filters)
    severity = form.severity_filter() if form.is_bound else None
    if severity:
        rows = rows.filter(pk__in=finding_list(organization, severity=severity).values("resource_id"))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    _label_rows(organization, list(page.object_list))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    return {
        "filter_form": form,
        "filters": {**filters, "connection": str(connection.public_id) if connection else "", "severity": severity},
        "finding_label": FINDING_LABELS.get(filters["finding"] or "", ""),
        "severity_label": SEVERITY_LABELS.get(severity or "", ""),
        "page": page,
        "page_query": urlencode(query),
        "filtered": any(filters.values()) or connection is not None or bool(severity),
        "ado_projects": sorted({r.name for r in resource_list(organization, kind="project")}, key=str.lower),
    }


def _label_rows(organization: Organization, resources: list[Any]) -> None:
    """Each row's kind label and its open findings (one query for the page)."""
    by_resource: dict[int, list[Any]] = {}
    if resources:
        ids = [r.pk for r in resources]
        for finding in finding_list(organization).filter(resource_id__in=ids):
            finding.kind_label = FINDING_LABELS.get(finding.kind, finding.kind)  # type: ignore[attr-defined]
            by_resource.setdefault(int(finding.resource_id or 0), []).append(finding)
    for resource in resources:
        resource.kind_label = KIND_LABELS.get(resource.kind, resource.kind)
        resource.open_findings = sorted(
            by_resource.get(resource.pk, []), key=lambda f: SEVERITY_ORDER.index(f.severity)
        )


def _page_context(request: HttpRequest, organization: Organization) -> dict[str, Any]:
    connections = connections_of(organization)
    context: dict[str, Any] = {"organization": organization, "nav": "estate", "connections": connections}
    context.update(scan_context(organization, scan_latest(organization)))
    context.update(summary_context(organization))
    context.update(rows_context(request, organization, connections))
    return context


@require_GET
@estate_view
def estate_home(request: HttpRequest, organization: Organization) -> HttpResponse:
    """The page, or (htmx: the filter form, a pager link, the refresh after a scan) its ``#rows``."""
    context = _page_context(request, organization)
    return page_or_partial(request, PAGE, context, partial="rows")


@require_POST
@estate_view
def scan_start(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Queue a scan through the chosen connection: the status card (htmx) that starts polling, or
    back to the page. Already running: 409 with the card naming the running scan."""
    form = ScanStartForm(request.POST)
    error, status, scan = "", 200, None
    if not form.is_valid():
        error, status = str(form.errors["connection"][0]), 400
    else:
        try:
            scan = scan_request(
                principal=principal_of(request),
                organization=organization,
                connection_ref=form.cleaned_data["connection"],
                trigger="manual",
            )
        except DomainError as exc:
            field_messages = [m for messages in exc.fields.values() for m in messages]
            error, status = (
                (f"{exc.message}: {'; '.join(field_messages)}" if field_messages else exc.message),
                exc.status,
            )
    if not is_htmx(request):
        if scan is not None:
            return redirect("estate:home", org_slug=organization.slug)
        context = _page_context(request, organization)
        context["scan_error"] = error
        return page_or_partial(request, PAGE, context, status=status)
    context = scan_context(organization, scan or scan_latest(organization))
    context["scan_error"] = error
    return page_or_partial(request, PAGE, context, partial="scan_status", status=status)


@require_GET
@estate_view
def scan_status(request: HttpRequest, organization: Organization, scan: Any) -> HttpResponse:
    """The status card of one scan. Once it has ended: HTTP 286 (htmx stops polling), the figures
    and findings swapped out of band, and an event that makes the page reload its rows."""
    found = scan_get(organization, str(scan))
    context = scan_context(organization, found)
    if context["scan_active"]:
        return render(request, f"{PAGE}#scan_status", context)
    context.update(summary_context(organization))
    response = render(request, f"{PAGE}#scan_ended", context, status=286)
    response["HX-Trigger"] = SCAN_ENDED_EVENT
    return response

"""Reads of the discovered estate: scans, resources, findings and the summary.

Every function takes an ``Organization`` the caller was already admitted to by
``estate.access.estate_organization`` (org admins only) and filters on it: a scan, resource or
finding of another organization is "not found", exactly like one that does not exist."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from estate.models import (
    EstateFinding,
    EstateResource,
    EstateScan,
    FindingKind,
    ResourceKind,
    ScanStatus,
    Severity,
)
from secrets_app.errors import NotFound
from secrets_app.models import Organization
from syncs.models import AppConnection

# estate_summary()["counts"] key per resource kind.
COUNT_KEYS: dict[str, str] = {
    ResourceKind.PROJECT: "projects",
    ResourceKind.VARIABLE_GROUP: "variable_groups",
    ResourceKind.PIPELINE: "pipelines",
    ResourceKind.SERVICE_CONNECTION: "service_connections",
    ResourceKind.SECURE_FILE: "secure_files",
}


def scan_list(organization: Organization) -> QuerySet[EstateScan]:
    """Every scan of the organization, newest first."""
    return EstateScan.objects.filter(organization=organization).select_related("connection", "requested_by")


def scan_get(organization: Organization, ref: str) -> EstateScan:
    """One scan by public id. NotFound ("Scan not found") for a malformed id or another
    organization's scan."""
    try:
        public_id = uuid.UUID(str(ref))
    except (TypeError, ValueError):
        raise NotFound("Scan not found") from None
    scan = scan_list(organization).filter(public_id=public_id).first()
    if scan is None:
        raise NotFound("Scan not found")
    return scan


def scan_latest(organization: Organization, connection: AppConnection | None = None) -> EstateScan | None:
    """The newest scan (any status) of the organization, or of one connection; None when never scanned."""
    scans = scan_list(organization)
    if connection is not None:
        scans = scans.filter(connection=connection)
    return scans.first()


def resource_list(
    organization: Organization,
    *,
    kind: str | None = None,
    project: str | None = None,
    finding: str | None = None,
    q: str | None = None,
    include_removed: bool = False,
    connection: AppConnection | None = None,
) -> QuerySet[EstateResource]:
    """Discovered resources. *project* is an ADO project name (case-insensitive) or id; *finding*
    keeps resources with an open finding of that ``FindingKind``; *q* matches the name
    (contains, case-insensitive). Removed resources (not seen by the latest complete scan) only
    with *include_removed*."""
    resources = EstateResource.objects.filter(organization=organization).select_related("managed_by_sync")
    if connection is not None:
        resources = resources.filter(connection=connection)
    if not include_removed:
        resources = resources.filter(removed_at__isnull=True)
    if kind:
        resources = resources.filter(kind=kind)
    if project:
        resources = resources.filter(Q(ado_project_name__iexact=project) | Q(ado_project_id__iexact=project))
    if q:
        resources = resources.filter(name__icontains=q)
    if finding:
        open_ids = EstateFinding.objects.filter(
            organization=organization, kind=finding, resolved_at__isnull=True, resource__isnull=False
        ).values("resource_id")
        resources = resources.filter(pk__in=open_ids)
    return resources


def resource_get(organization: Organization, pk: int) -> EstateResource:
    """One resource (removed ones included). NotFound ("Resource not found") otherwise."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise NotFound("Resource not found") from None
    resource = (
        EstateResource.objects.filter(organization=organization, pk=key).select_related("managed_by_sync").first()
    )
    if resource is None:
        raise NotFound("Resource not found")
    return resource


def finding_list(
    organization: Organization,
    *,
    kind: str | None = None,
    severity: str | None = None,
    include_resolved: bool = False,
    resource: EstateResource | None = None,
) -> QuerySet[EstateFinding]:
    """Findings, open ones only unless *include_resolved*; ordered by the model (resolved last)."""
    findings = EstateFinding.objects.filter(organization=organization).select_related("resource")
    if not include_resolved:
        findings = findings.filter(resolved_at__isnull=True)
    if kind:
        findings = findings.filter(kind=kind)
    if severity:
        findings = findings.filter(severity=severity)
    if resource is not None:
        findings = findings.filter(resource=resource)
    return findings


def estate_summary(organization: Organization) -> dict[str, Any]:
    """The overview's figures in four queries: the latest scan, live resources per kind (and the
    secret variables of groups and pipelines), open findings per kind and per severity."""
    counts: dict[str, int] = dict.fromkeys(COUNT_KEYS.values(), 0)
    counts["secret_variables"] = 0
    rows = (
        EstateResource.objects.filter(organization=organization, removed_at__isnull=True)
        .values("kind")
        .annotate(n=Count("id"), secrets=Sum("secret_count"))
    )
    for row in rows:
        if row["kind"] in COUNT_KEYS:
            counts[COUNT_KEYS[row["kind"]]] = row["n"]
        if row["kind"] in (ResourceKind.VARIABLE_GROUP, ResourceKind.PIPELINE):
            counts["secret_variables"] += row["secrets"] or 0
    open_findings = EstateFinding.objects.filter(organization=organization, resolved_at__isnull=True)
    by_kind = {row["kind"]: row["n"] for row in open_findings.values("kind").annotate(n=Count("id"))}
    by_severity = {row["severity"]: row["n"] for row in open_findings.values("severity").annotate(n=Count("id"))}
    return {
        "last_scan": scan_latest(organization),
        "counts": counts,
        "findings_by_kind": {kind: by_kind.get(kind, 0) for kind in FindingKind.values},
        "findings_by_severity": {severity: by_severity.get(severity, 0) for severity in Severity.values},
        "open_findings": sum(by_kind.values()),
    }


def scan_last_succeeded(organization: Organization, connection: AppConnection | None = None) -> EstateScan | None:
    """The newest scan that completed (its figures are the current inventory's)."""
    scans = scan_list(organization).filter(status=ScanStatus.SUCCEEDED)
    if connection is not None:
        scans = scans.filter(connection=connection)
    return scans.first()

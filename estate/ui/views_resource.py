"""One discovered Azure DevOps resource: its facts, its variables (names with secret / plain /
"looks like a secret" badges, never a value), the pipelines it is open to, its findings, the
imports made of it, and the "Import" button for variable groups and pipelines. Read only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from estate.models import EstateResource, ResourceKind
from estate.selectors.imports import import_list
from estate.selectors.inventory import finding_list, resource_get, resource_list
from estate.ui.views_common import FINDING_LABELS, KIND_LABELS, SEVERITY_ORDER, estate_view
from secrets_app.models import Organization

PAGE = "estate/resource.html"
IMPORTABLE = (ResourceKind.VARIABLE_GROUP, ResourceKind.PIPELINE)
CREDENTIAL_LABELS = {
    "client_secret": "Client secret",
    "certificate": "Certificate",
    "federated": "Workload identity federation",
    "managed_identity": "Managed identity",
    "password": "Password",
    "token": "Token",
    "other": "Other",
}


def _variables(resource: EstateResource) -> list[dict[str, Any]]:
    """Names and flags only: ``details`` never holds a value, and nothing else is read here."""
    rows = []
    for variable in (resource.details or {}).get("variables") or []:
        rows.append(
            {
                "name": str(variable.get("name", "")),
                "is_secret": bool(variable.get("is_secret")),
                "looks_secret": bool(variable.get("looks_secret")) and not variable.get("is_secret"),
                "reason": str(variable.get("reason") or ""),
            }
        )
    return sorted(rows, key=lambda row: row["name"].lower())


def _linked(organization: Organization, resource: EstateResource, kind: str, ids: list[Any]) -> list[EstateResource]:
    """Resources of *kind* in the same connection (and project) whose Azure DevOps ids are *ids*."""
    if not ids:
        return []
    wanted = [str(i) for i in ids]
    return list(
        resource_list(organization, kind=kind, connection=resource.connection, include_removed=True).filter(
            external_id__in=wanted, ado_project_id=resource.ado_project_id
        )
    )


@require_GET
@estate_view
def resource_page(request: HttpRequest, organization: Organization, resource: int) -> HttpResponse:
    found = resource_get(organization, resource)
    details = found.details or {}
    findings = sorted(
        finding_list(organization, resource=found),
        key=lambda f: (SEVERITY_ORDER.index(f.severity) if f.severity in SEVERITY_ORDER else 9, f.kind, f.subject),
    )
    for finding in findings:
        finding.kind_label = FINDING_LABELS.get(finding.kind, finding.kind)  # type: ignore[attr-defined]
    pipelines: list[EstateResource] = []
    groups: list[EstateResource] = []
    if found.kind in (ResourceKind.VARIABLE_GROUP, ResourceKind.SECURE_FILE, ResourceKind.SERVICE_CONNECTION):
        pipelines = _linked(organization, found, ResourceKind.PIPELINE, details.get("pipeline_ids") or [])
    if found.kind == ResourceKind.PIPELINE:
        groups = _linked(organization, found, ResourceKind.VARIABLE_GROUP, details.get("variable_group_ids") or [])
    context = {
        "organization": organization,
        "nav": "estate",
        "resource": found,
        "details": details,
        "kind_label": KIND_LABELS.get(found.kind, found.kind),
        "variables": _variables(found),
        "has_variables": found.kind in IMPORTABLE,
        "is_key_vault": details.get("type") == "AzureKeyVault",
        "all_pipelines": bool(details.get("all_pipelines")),
        "pipelines": pipelines,
        "unknown_pipeline_ids": sorted(
            {str(i) for i in details.get("pipeline_ids") or []} - {p.external_id for p in pipelines}
        ),
        "groups": groups,
        "findings": findings,
        "imports": list(import_list(organization, resource=found)),
        "importable": found.kind in IMPORTABLE and found.removed_at is None,
        "credential_label": CREDENTIAL_LABELS.get(str(details.get("credential_kind") or ""), ""),
    }
    return render(request, PAGE, context)

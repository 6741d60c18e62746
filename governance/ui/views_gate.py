"""The organization's "Pipeline gates" pages (organization admins): the gates, a form to create one,
the Basic credentials and the ready-to-paste Invoke REST API check right after (the password is
shown on that page only), and each gate's decisions with their reasons. Thin: every write is a
service call (``governance.gate.services``), which checks the caller and audits."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from governance.api.views_gate import check_configuration
from governance.gate.services import (
    GateCredentials,
    gate_create,
    gate_decisions,
    gate_delete,
    gate_get,
    gate_list,
    gate_update,
)
from governance.models import GateMode, PipelineGate
from secrets_app.errors import DomainError
from secrets_app.models import MachineIdentity, Organization, Project
from secrets_app.ui.framework import org_view, page_or_partial, principal_of

LIST_PAGE = "governance/gates.html"
DETAIL_PAGE = "governance/gate.html"
POLICY = (
    ("require_rotation_current", "Not overdue for rotation (and no failed rotation)"),
    ("require_no_leaks", "Not flagged as leaked"),
    ("require_no_quarantined", "Not quarantined"),
    ("require_no_irrevocable_leases", "No irrevocable dynamic secret lease"),
)


def _paths(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


def _form_values(post: Any) -> dict[str, Any]:
    definition = (post.get("ado_definition_id") or "").strip()
    return {
        "name": post.get("name", "").strip(),
        "ado_organization": post.get("ado_organization", "").strip(),
        "ado_project_id": post.get("ado_project_id", "").strip(),
        "ado_definition_id": int(definition) if definition.isdigit() else None,
        "ado_environment": post.get("ado_environment", "").strip(),
        "paths": _paths(post.get("paths", "")),
        "mode": post.get("mode", GateMode.API_RESPONSE),
        **{name: post.get(name) == "on" for name, _ in POLICY},
    }


def paste_config(gate: PipelineGate, credentials: GateCredentials | None = None) -> dict[str, Any]:
    """The service connection and the check, as text blocks to copy."""
    config = check_configuration(gate)
    return {
        "server_url": settings.SITE_URL.rstrip("/"),
        "username": gate.username,
        "password": credentials.password if credentials else None,
        "url_suffix": config["urlSuffix"],
        "headers": json.dumps(config["headers"], indent=2),
        "body": json.dumps(config["body"], indent=2),
        "wait_for_completion": config["waitForCompletion"],
        "success_criteria": config["successCriteria"],
        "callback": gate.mode == GateMode.CALLBACK,
    }


def _choices(organization: Organization) -> dict[str, Any]:
    return {
        "projects": Project.objects.filter(organization=organization).order_by("name"),
        "identities": MachineIdentity.objects.filter(organization=organization, is_active=True).order_by("name"),
        "modes": GateMode.choices,
        "policy": POLICY,
    }


@require_http_methods(["GET", "POST"])
@org_view
def gates_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    principal = principal_of(request)
    gates = gate_list(principal=principal, organization=organization)  # admins only (403 otherwise)
    context: dict[str, Any] = {"organization": organization, "nav": "people", "gates": gates}
    context |= _choices(organization)
    status = 200
    if request.method == "POST":
        values = _form_values(request.POST)
        context["form"] = request.POST
        try:
            gate, credentials = gate_create(
                principal=principal,
                organization=organization,
                project=request.POST.get("project", ""),
                environment=request.POST.get("environment", "").strip(),
                identity=request.POST.get("identity", ""),
                parity_from=request.POST.get("parity_from", "").strip() or None,
                **values,
            )
        except DomainError as exc:
            context["error"] = exc.message
            status = exc.status
        else:
            context["created"] = gate
            context["paste"] = paste_config(gate, credentials)
            context["gates"] = gate_list(principal=principal, organization=organization)
            context["form"] = None
    response = page_or_partial(request, LIST_PAGE, context, partial="gates", status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a password shown once
    return response


@require_http_methods(["GET", "POST"])
@org_view
def gate_page(request: HttpRequest, organization: Organization, gate: str) -> HttpResponse:
    principal = principal_of(request)
    found = gate_get(principal=principal, organization=organization, gate_id=str(gate))
    context: dict[str, Any] = {"organization": organization, "nav": "people", "gate": found}
    status = 200
    credentials = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "delete":
                gate_delete(principal=principal, organization=organization, gate_id=str(gate))
                context["deleted"] = True
            elif action == "reset-password":
                found, credentials = gate_update(
                    principal=principal, organization=organization, gate_id=str(gate), reset_password=True
                )
                context["notice"] = "A new password was issued: update the service connection now."
            elif action in ("enable", "disable"):
                found, _ = gate_update(
                    principal=principal, organization=organization, gate_id=str(gate), enabled=action == "enable"
                )
                context["notice"] = "Gate enabled." if found.enabled else "Gate disabled: its check is refused."
        except DomainError as exc:
            context["error"] = exc.message
            status = exc.status
        context["gate"] = found
    if not context.get("deleted"):
        context["paste"] = paste_config(found, credentials)
        context["decisions"] = gate_decisions(principal=principal, organization=organization, gate_id=str(gate))
    response = page_or_partial(request, DETAIL_PAGE, context, partial="gate", status=status)
    response["Cache-Control"] = "no-store"
    return response

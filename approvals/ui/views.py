"""The project's Approvals page: policies (list, create, edit, delete) and the open change
requests (the review pages are ``approvals.ui.change_requests``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from approvals.models import ApprovalPolicy, PolicyMember, PolicyMemberRole
from approvals.selectors.change_requests import change_request_list_for
from approvals.services.policies import (
    MemberRef,
    approval_policy_create,
    approval_policy_delete,
    approval_policy_update,
)
from approvals.shapes import policy_shape
from approvals.ui.forms import PolicyForm
from secrets_app.errors import DomainError, NotFound
from secrets_app.models import Environment, Group, OrganizationMembership
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.framework import apply_domain_error, page_or_partial, project_view

PAGE = "approvals/policies.html"
ALIASES = {
    "approvalsRequired": "approvals_required",
    "requestTtlHours": "request_ttl_hours",
    "maxAccessHours": "max_access_hours",
}


def _people(scope: ProjectScope) -> list[tuple[str, str]]:
    organization_id = scope.project.organization_id
    user_ids = OrganizationMembership.objects.filter(organization_id=organization_id).values("user_id")
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("email")
    groups = Group.objects.filter(organization_id=organization_id).order_by("slug")
    return [(f"user:{user.pk}", user.get_username()) for user in users] + [
        (f"group:{group.slug}", f"group {group.slug}") for group in groups
    ]


def _form(scope: ProjectScope, data: Any = None, initial: dict[str, Any] | None = None) -> PolicyForm:
    environments = list(Environment.objects.filter(project=scope.project).values_list("slug", flat=True))
    return PolicyForm(data, initial=initial, environments=environments, people=_people(scope))


def _refs(values: list[str]) -> list[MemberRef]:
    return [MemberRef(kind=value.split(":", 1)[0], ref=value.split(":", 1)[1]) for value in values if ":" in value]


def _initial(policy: ApprovalPolicy) -> dict[str, Any]:
    members = PolicyMember.objects.filter(policy=policy).select_related("group")

    def choice(member: PolicyMember) -> str:
        return f"user:{member.user_id}" if member.user_id else f"group:{member.group.slug}"  # type: ignore[union-attr]

    return {
        "name": policy.name,
        "environments": [pe.environment.slug for pe in policy.policy_environments.select_related("environment")],
        "path": policy.path,
        "approvers": [choice(m) for m in members if m.role == PolicyMemberRole.APPROVER],
        "bypassers": [choice(m) for m in members if m.role == PolicyMemberRole.BYPASSER],
        "approvals_required": policy.approvals_required,
        "enforcement": policy.enforcement,
        "allow_self_approval": policy.allow_self_approval,
        "applies_to_identities": policy.applies_to_identities,
        "governs_changes": policy.governs_changes,
        "governs_access": policy.governs_access,
        "request_ttl_hours": policy.request_ttl_hours,
        "max_access_hours": policy.max_access_hours,
    }


def _context(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    can_manage = scope.access.can("approvals.manage") and scope.principal.is_user
    policies = ApprovalPolicy.objects.filter(project=scope.project).order_by("name")
    context: dict[str, Any] = {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "approvals",
        "can_manage": can_manage,
        "policies": [policy_shape(policy) for policy in policies],
        "open_requests": change_request_list_for(scope, status="open", limit=50),
        "form": _form(scope) if can_manage else None,
        "editing": None,
    }
    context.update(extra)
    return context


def _policy(scope: ProjectScope, policy_id: str) -> ApprovalPolicy:
    try:
        found = ApprovalPolicy.objects.filter(project=scope.project, public_id=uuid.UUID(str(policy_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("Approval policy not found")
    return found


def _save(scope: ProjectScope, form: PolicyForm, policy: ApprovalPolicy | None) -> ApprovalPolicy:
    data = form.cleaned_data
    fields = {
        "name": data["name"],
        "environments": data["environments"],
        "path": data["path"],
        "approvers": _refs(data["approvers"]),
        "bypassers": _refs(data["bypassers"]),
        "approvals_required": data["approvals_required"],
        "enforcement": data["enforcement"],
        "allow_self_approval": data["allow_self_approval"],
        "applies_to_identities": data["applies_to_identities"],
        "governs_changes": data["governs_changes"],
        "governs_access": data["governs_access"],
        "request_ttl_hours": data["request_ttl_hours"],
        "max_access_hours": data["max_access_hours"],
    }
    if policy is None:
        return approval_policy_create(scope=scope, **fields)
    return approval_policy_update(scope=scope, policy=policy, **fields)


@require_http_methods(["GET", "POST"])
@project_view
def policy_list_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: the page (``?edit=<id>`` puts that policy in the form). POST: create or (with
    ``policy``) update; the form section comes back, with errors beside their fields."""
    if request.method == "GET":
        editing = request.GET.get("edit")
        if editing and scope.access.can("approvals.manage"):
            shown = _policy(scope, editing)
            context = _context(scope, form=_form(scope, initial=_initial(shown)), editing=str(shown.public_id))
            return page_or_partial(request, PAGE, context, partial="policy_form")
        return page_or_partial(request, PAGE, _context(scope))
    require(scope, "approvals.manage", resource="approval_policy")  # refused (403, audited) before the form
    policy_id = request.POST.get("policy") or None
    policy = _policy(scope, policy_id) if policy_id else None
    form = _form(scope, request.POST)
    if form.is_valid():
        try:
            saved = _save(scope, form, policy)
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=ALIASES)
        else:
            verb = "Updated" if policy else "Created"
            return page_or_partial(
                request, PAGE, _context(scope, notice=f"{verb} policy {saved.name}."), partial="policies_section"
            )
    context = _context(scope, form=form, editing=policy_id)
    return page_or_partial(request, PAGE, context, partial="policy_form", status=422)


@require_POST
@project_view
def policy_delete_view(request: HttpRequest, scope: ProjectScope, policy_id: str) -> HttpResponse:
    doomed = _policy(scope, policy_id)
    name = doomed.name
    closed = approval_policy_delete(scope=scope, policy=doomed)
    notice = f"Deleted policy {name}." + (f" Closed {closed} open change request(s)." if closed else "")
    return page_or_partial(request, PAGE, _context(scope, notice=notice), partial="policies_section")

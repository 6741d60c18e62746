"""Access-request pages (htmx): ask for access (reachable from any 403/404 inside a project of
one's organization), one request with approve/reject, the approvers' inbox, and "My access".

Views parse, call one service or selector, render. Who may do what is decided by
``approvals.services.access_requests`` (which refuses and audits); pages only hide what it would
refuse. GET never changes anything; every action is a POST with the CSRF token.
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from approvals.api.access_requests import parse_duration
from approvals.models import AccessRequest, AccessRequestStatus, Enforcement
from approvals.selectors import access_requests as selectors
from approvals.selectors.change_requests import change_requests_to_review
from approvals.selectors.policies import policy_bypasser_ids, policy_people
from approvals.services import access_requests as services
from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.models import Environment, Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_access
from secrets_app.selectors.temporary_grants import temporary_grants_for
from secrets_app.ui.framework import (
    View,
    apply_domain_error,
    error_response,
    login_required,
    no_store,
    principal_of,
)

FORM_PAGE = "approvals/access_request_form.html"
DETAIL_PAGE = "approvals/access_request_detail.html"
INBOX_PAGE = "approvals/access_inbox.html"
MINE_PAGE = "approvals/access_mine.html"
ACCESS_CHOICES = [("read", "Read (list and read values)"), ("write", "Read and write (create, edit, delete secrets)")]


def requester_project_view(view: View) -> View:
    """Resolve ``slug`` to a project of the person's organization (member of the project or not:
    asking is how one gets in); 404 otherwise, like a missing one."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            project = selectors.project_for_requester(principal_of(request), slug)
            return view(request, project, *args, **kwargs)
        except DomainError as exc:
            return error_response(request, exc)

    return wrapper


# --- the "Request access" offer on refusal pages (registered in approvals.apps) -----------------
def request_access_offer(request: HttpRequest, project_ref: str, environment: str, path: str) -> dict[str, str] | None:
    """A "Request access" link for a person of the project's organization where a policy governs
    access requests (the first of the project's environments when none is named); None otherwise,
    for outsiders always: the page must not tell them the project exists."""
    principal = Principal.for_user(request.user)
    try:
        project = selectors.project_for_requester(principal, project_ref)
    except DomainError:
        return None
    envs = list(Environment.objects.filter(project=project).order_by("position", "id").values_list("slug", flat=True))
    candidates = [environment] if environment in envs else envs
    wanted_path = path if path.startswith("/") else "/"
    for env in candidates:
        if selectors.requestable_here(principal, project, env, wanted_path):
            query = urlencode({"environment": env, "path": wanted_path})
            return {
                "label": "Request access",
                "url": reverse("approvals:access_request_new", args=[project.slug]) + "?" + query,
            }
    return None


# --- ask --------------------------------------------------------------------------------------
class AccessRequestForm(forms.Form):
    environment = forms.ChoiceField()
    path = forms.CharField(max_length=512, initial="/", help_text="A folder, or a glob such as /payments/**")
    access = forms.ChoiceField(choices=ACCESS_CHOICES, initial="read", widget=forms.RadioSelect)
    duration = forms.CharField(max_length=10, initial="1h", help_text="e.g. 30m, 2h (at most the policy's maximum)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), min_length=10, max_length=1000)
    break_glass = forms.BooleanField(
        required=False, label="Break glass: take the access now (soft policies, bypassers only)"
    )

    def __init__(self, *args: Any, environments: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["environment"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(slug, slug) for slug in environments]


@requester_project_view
@require_http_methods(["GET", "POST"])
def access_request_new(request: HttpRequest, project: Project) -> HttpResponse:
    principal = principal_of(request)
    environments = list(
        Environment.objects.filter(project=project).order_by("position", "id").values_list("slug", flat=True)
    )
    policy = None
    if request.method == "POST":
        form = AccessRequestForm(request.POST, environments=environments)
        if form.is_valid():
            data = form.cleaned_data
            create = (
                services.access_request_create_break_glass if data["break_glass"] else services.access_request_create
            )
            try:
                created = create(
                    principal=principal,
                    project=project,
                    environment=data["environment"],
                    path=data["path"],
                    access=["read", "write"] if data["access"] == "write" else ["read"],
                    duration_minutes=parse_duration(data["duration"]),
                    reason=data["reason"],
                )
            except DomainError as exc:
                try:
                    apply_domain_error(form, exc)
                except DomainError as refusal:
                    form.add_error(None, refusal.message)
            else:
                return redirect("approvals:access_request_detail", project.slug, created.public_id)
    else:
        initial = {"environment": request.GET.get("environment", ""), "path": request.GET.get("path", "/")}
        form = AccessRequestForm(initial=initial, environments=environments)
        env = Environment.objects.filter(project=project, slug=initial["environment"]).first()
        if env is not None:
            try:
                policy = selectors.access_policy_for(project=project, environment=env, path=initial["path"])
            except ValidationFailed:
                policy = None
    return no_store(render(request, FORM_PAGE, {"project": project, "form": form, "policy": policy, "nav": "access"}))


# --- one request --------------------------------------------------------------------------------
def _detail_context(request: HttpRequest, project: Project, found: AccessRequest) -> dict[str, Any]:
    principal = principal_of(request)
    user_id = principal.user_id
    policy = found.policy
    approvers = list(policy_people(policy)) if policy else []
    pending = found.status == AccessRequestStatus.PENDING
    grant = found.grant
    grant_open = grant is not None and grant.seconds_left > 0
    is_approver = any(person.pk == user_id for person in approvers)
    return {
        "project": project,
        "ar": found,
        "reviews": list(found.reviews.select_related("reviewer")),
        "comments": list(found.comments.select_related("author")),
        "approvers": approvers,
        "is_requester": user_id == found.requester_id,
        "can_review": pending
        and is_approver
        and (user_id != found.requester_id or bool(policy and policy.allow_self_approval)),
        "can_cancel": pending and user_id == found.requester_id,
        "can_break_glass": pending
        and user_id == found.requester_id
        and policy is not None
        and policy.enforcement == Enforcement.SOFT
        and user_id in policy_bypasser_ids(policy),
        "can_revoke": grant_open
        and (is_approver or user_id == found.requester_id or project_access(principal, project).is_admin),
        "grant_open": grant_open,
        "nav": "access",
    }


@requester_project_view
@require_GET
def access_request_detail(request: HttpRequest, project: Project, public_id: str) -> HttpResponse:
    found = selectors.access_request_get(principal_of(request), project, str(public_id))
    return no_store(render(request, DETAIL_PAGE, _detail_context(request, project, found)))


@requester_project_view
@require_POST
def access_request_act(request: HttpRequest, project: Project, public_id: str) -> HttpResponse:
    """approve | reject | cancel | revoke | break_glass, then back to the request page."""
    principal = principal_of(request)
    found = selectors.access_request_get(principal, project, str(public_id))
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    if action in ("approve", "reject"):
        services.access_request_review(
            principal=principal,
            request=found,
            status="approved" if action == "approve" else "rejected",
            comment=comment,
        )
    elif action == "cancel":
        services.access_request_cancel(principal=principal, request=found)
    elif action == "revoke":
        services.access_grant_revoke_early(principal=principal, request=found)
    elif action == "break_glass":
        services.access_request_break_glass(principal=principal, request=found, reason=comment)
    else:
        raise ValidationFailed("action", "approve, reject, cancel, revoke or break_glass")
    return redirect("approvals:access_request_detail", project.slug, found.public_id)


# --- inbox and my access ----------------------------------------------------------------------
@login_required
@require_GET
def access_inbox(request: HttpRequest) -> HttpResponse:
    """Everything waiting for this person's review: change requests and access requests."""
    waiting = list(selectors.access_requests_to_review(request.user)[:200])
    changes = list(change_requests_to_review(request.user).prefetch_related("items")[:200])
    return no_store(render(request, INBOX_PAGE, {"waiting": waiting, "changes": changes, "nav": "inbox"}))


@login_required
@require_GET
def my_access(request: HttpRequest) -> HttpResponse:
    grants = list(temporary_grants_for(request.user))
    by_source = {f"access_request:{ar.public_id}": ar for ar in selectors.access_requests_of(request.user)[:200]}
    rows = [{"grant": grant, "request": by_source.get(grant.source)} for grant in grants]
    return no_store(
        render(request, MINE_PAGE, {"grants": rows, "requests": list(by_source.values()), "nav": "my_access"})
    )

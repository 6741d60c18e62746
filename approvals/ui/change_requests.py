"""Change-request review pages: the project's list (open / merged / closed / expired) and one
request with its proposed changes, reviews, comments and actions.

Views parse, call a service or selector, render. Who may do what is decided by
``approvals.services.change_requests`` (which refuses and audits); the page only hides or disables
what the services would refuse, and says why. Proposed values are never in the page: a viewer
allowed to read the value at that place gets a "Reveal" button (a POST, audited by the service);
everyone else sees "value hidden".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from approvals.models import ChangeRequest, ChangeReview, Enforcement, RequestComment, RequestStatus, ReviewStatus
from approvals.selectors import change_requests as selectors
from approvals.selectors.policies import policy_bypasser_ids, policy_people
from approvals.services import change_requests as services
from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.framework import error_response, is_htmx, no_store, page_or_partial, project_view
from secrets_app.write_gate import ChangeOp

LIST_PAGE = "approvals/change_requests.html"
DETAIL_PAGE = "approvals/change_request_detail.html"
DELIVERY_TEMPLATE = "notifications/_delivery_status.html"
TABS = [(status.value, status.label) for status in RequestStatus]
LIST_LIMIT = 200

# How each proposed operation reads on the page (badge text, badge colour).
OP_BADGES = {
    ChangeOp.CREATE: ("added", "ok"),
    ChangeOp.UPDATE: ("changed", "warn"),
    ChangeOp.DELETE: ("deleted", "danger"),
    ChangeOp.ROLLBACK_SECRET: ("rollback", "neutral"),
    ChangeOp.ROLLBACK_FOLDER: ("folder rollback", "neutral"),
    ChangeOp.FOLDER_DELETE: ("folder delete", "danger"),
}


def _project_context(scope: ProjectScope) -> dict[str, Any]:
    return {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "approvals",
    }


def _delivery_template() -> str | None:
    """The notifications app's delivery-status fragment, while it may not exist yet."""
    try:
        get_template(DELIVERY_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return DELIVERY_TEMPLATE


def _deliveries(change_request: ChangeRequest) -> list[Any]:
    try:
        from notifications.selectors import deliveries_for
    except ImportError:  # pragma: no cover - only while the notifications app is not there
        return []
    return deliveries_for(f"change_request:{change_request.public_id}")


def _with_items(change_requests: list[ChangeRequest]) -> list[ChangeRequest]:
    prefetch_related_objects(change_requests, "items")
    return change_requests


# --- list -------------------------------------------------------------------------------------


@require_GET
@project_view
def change_request_list_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    status = request.GET.get("status") or RequestStatus.OPEN
    if status not in RequestStatus.values:
        status = RequestStatus.OPEN
    lists = {value: selectors.change_request_list_for(scope, status=value, limit=LIST_LIMIT) for value, _ in TABS}
    context = {
        **_project_context(scope),
        "status": status,
        "status_label": RequestStatus(status).label.lower(),
        "tabs": [(value, label, len(lists[value])) for value, label in TABS],
        "limit": LIST_LIMIT,
        "change_requests": _with_items(lists[status]),
    }
    return page_or_partial(request, LIST_PAGE, context, partial="list")


# --- one request: what this viewer sees and may do ----------------------------------------------


@dataclass
class ReviewPage:
    """What the page shows this viewer. Mirrors the services' rules only to hide or disable
    controls and say why; every action is still decided (and refused, audited) by the service."""

    items: list[dict[str, Any]]
    may_read_values: bool
    required: int
    approvals: int
    rejected_by: tuple[str, ...]
    approvers: list[Any]
    reviews: list[ChangeReview]
    earlier_reviews: list[ChangeReview]
    comments: list[RequestComment]
    is_open: bool
    is_party: bool
    can_review: bool
    review_refusal: str
    my_review: ChangeReview | None
    has_conflicts: bool
    merge_blocker: str
    can_merge: bool
    can_break_glass: bool
    can_rebase: bool
    can_close: bool
    can_reopen: bool
    can_comment: bool
    can_revise: bool = False
    revisable: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _review_page(scope: ProjectScope, cr: ChangeRequest) -> ReviewPage:
    principal = scope.principal
    policy = cr.policy
    is_open = cr.status == RequestStatus.OPEN and policy is not None
    rows = selectors.change_request_diff(cr, scope)
    for row in rows:
        row["badge"], row["badge_class"] = OP_BADGES.get(row["op"], (row["op"], "subtle"))
        row["has_value"] = row["op"] in (ChangeOp.CREATE, ChangeOp.UPDATE, ChangeOp.DELETE) and bool(row["key"])
    quorum = services.change_request_quorum(cr)
    reviews = list(cr.reviews.select_related("reviewer"))
    current = [review for review in reviews if review.revision == cr.revision]
    is_committer = services.is_committer(cr, principal)
    is_approver = selectors.principal_is_approver(principal, cr)
    is_admin = scope.access.can("approvals.manage")
    is_party = is_committer or is_approver or is_admin
    has_conflicts = any(row["conflict"] for row in rows)

    review_refusal = ""
    if not is_approver:
        review_refusal = "Only an approver of this request's policy may review it."
    elif is_committer and policy is not None and not policy.allow_self_approval:
        review_refusal = "You opened this request; the policy does not let you review your own change."

    merge_blocker = ""
    if quorum.rejected_by:
        merge_blocker = f"Rejected by {', '.join(quorum.rejected_by)}: the committer must revise the request."
    elif has_conflicts:
        merge_blocker = "The secrets changed since this request was opened: rebase it (approvers review again)."
    elif not quorum.met:
        merge_blocker = f"Needs {quorum.required} approval(s), has {quorum.approvals}."
    soft = policy is not None and policy.enforcement == Enforcement.SOFT
    bypassers = policy_bypasser_ids(policy) if policy is not None else set()
    may_bypass = principal.user_id in bypassers if bypassers else (is_admin and principal.is_user)
    return ReviewPage(
        items=rows,
        may_read_values=scope.access.can("secrets.read_value", environment=cr.environment.slug, path=cr.path),
        required=quorum.required,
        approvals=quorum.approvals,
        rejected_by=quorum.rejected_by,
        approvers=list(policy_people(policy)) if policy is not None else [],
        reviews=current,
        earlier_reviews=[review for review in reviews if review.revision != cr.revision],
        comments=list(cr.comments.select_related("author")),
        is_open=is_open,
        is_party=is_party,
        can_review=is_open and not review_refusal,
        review_refusal=review_refusal,
        my_review=next((r for r in current if r.reviewer_id == principal.user_id), None),
        has_conflicts=has_conflicts,
        merge_blocker=merge_blocker,
        can_merge=is_open and is_party and principal.is_user and not merge_blocker,
        can_break_glass=(
            is_open and soft and may_bypass and not quorum.rejected_by and not has_conflicts and not quorum.met
        ),
        can_rebase=is_open and is_party and has_conflicts,
        can_close=is_open and is_party,
        can_reopen=cr.status == RequestStatus.CLOSED and policy is not None and is_party,
        can_comment=principal.is_user,
        can_revise=is_open and is_committer,
        revisable=[row for row in rows if row["key"] and row["op"] in (ChangeOp.CREATE, ChangeOp.UPDATE)],
    )


# --- one request: pages and actions -----------------------------------------------------------


def _detail_url(scope: ProjectScope, change_request: ChangeRequest) -> str:
    return reverse("approvals:change_request_detail", args=[scope.project.slug, change_request.public_id])


def _render_detail(
    request: HttpRequest, scope: ProjectScope, change_request: ChangeRequest, *, status: int = 200, **extra: Any
) -> HttpResponse:
    page = _review_page(scope, change_request)
    context = {
        **_project_context(scope),
        "cr": change_request,
        "page": page,
        "delivery_template": _delivery_template() if page.is_party else None,
        "deliveries": _deliveries(change_request) if page.is_party else [],
        "kept": {},
        **extra,
    }
    return no_store(page_or_partial(request, DETAIL_PAGE, context, partial="request_body", status=status))


_DONE = {
    "approved": "You approved this request.",
    "rejected": "You rejected this request.",
    "merged": "Merged: the change is applied.",
    "bypassed": "Merged with break-glass: the change is applied and the approvers are told.",
    "rebased": "Rebased onto the current secrets: approvers review again.",
    "closed": "Closed.",
    "reopened": "Reopened: approvers review again.",
    "commented": "Comment added.",
    "revised": "Revised: approvers review the new revision.",
}


@require_GET
@project_view
def change_request_detail_page(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    change_request = selectors.change_request_get_for(scope, request_id)
    return _render_detail(request, scope, change_request, notice=_DONE.get(request.GET.get("done", ""), ""))


def _act(
    request: HttpRequest,
    scope: ProjectScope,
    request_id: str,
    action: Any,
    *,
    done: str,
    keep: dict[str, str] | None = None,
) -> HttpResponse:
    """Run *action* (one service call) on the request, then show the page again: with the
    ``done`` notice, or with the refusal's message (and the typed input in *keep*) at its status.
    Without htmx a success redirects (POST/redirect/GET) so a reload does not post again."""
    change_request = selectors.change_request_get_for(scope, request_id)
    try:
        action(change_request)
    except DomainError as exc:
        if not is_htmx(request) and exc.status == 404:
            return error_response(request, exc)
        change_request = selectors.change_request_get_for(scope, request_id)
        return _render_detail(request, scope, change_request, status=exc.status, error=exc.message, kept=keep or {})
    if not is_htmx(request):
        return redirect(_detail_url(scope, change_request) + f"?done={done}")
    change_request = selectors.change_request_get_for(scope, request_id)
    return _render_detail(request, scope, change_request, notice=_DONE[done])


@require_POST
@project_view
def change_request_review_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    status = request.POST.get("status", "")
    comment = request.POST.get("comment", "")
    return _act(
        request,
        scope,
        request_id,
        lambda cr: services.change_request_review(request=cr, reviewer=scope, status=status, comment=comment),
        done="rejected" if status == ReviewStatus.REJECTED else "approved",
        keep={"comment": comment},
    )


@require_POST
@project_view
def change_request_merge_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    reason = request.POST.get("bypass_reason", "").strip()
    return _act(
        request,
        scope,
        request_id,
        lambda cr: services.change_request_merge(request=cr, by=scope, bypass_reason=reason or None),
        done="bypassed" if reason else "merged",
        keep={"bypass_reason": reason},
    )


@require_POST
@project_view
def change_request_rebase_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    return _act(
        request, scope, request_id, lambda cr: services.change_request_rebase(request=cr, by=scope), done="rebased"
    )


@require_POST
@project_view
def change_request_status_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    wanted = request.POST.get("status", "")
    reason = request.POST.get("reason", "")

    def change(cr: ChangeRequest) -> Any:
        if wanted == RequestStatus.CLOSED:
            return services.change_request_close(request=cr, by=scope, reason=reason)
        if wanted == RequestStatus.OPEN:
            return services.change_request_reopen(request=cr, by=scope)
        raise ValidationFailed("status", "must be 'closed' or 'open'")

    return _act(request, scope, request_id, change, done="closed" if wanted == RequestStatus.CLOSED else "reopened")


@require_POST
@project_view
def change_request_comment_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    body = request.POST.get("body", "")
    return _act(
        request,
        scope,
        request_id,
        lambda cr: services.change_request_comment(request=cr, by=scope, body=body),
        done="commented",
        keep={"body": body},
    )


@require_POST
@project_view
def change_request_revise_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    """The committer's answer to a rejection: new values for some keys (an empty field keeps the
    proposed value), or keys withdrawn. The typed values are never rendered back."""
    keys = request.POST.getlist("key")
    changes = []
    for key in keys:
        if request.POST.get(f"withdraw:{key}"):
            changes.append(services.RevisedItem(key=key, withdraw=True))
        elif request.POST.get(f"value:{key}", "") != "":
            changes.append(services.RevisedItem(key=key, value=request.POST[f"value:{key}"]))
    return _act(
        request,
        scope,
        request_id,
        lambda cr: services.change_request_revise(request=cr, by=scope, changes=changes),
        done="revised",
    )


@require_http_methods(["GET", "POST"])
@project_view
def change_request_values_view(request: HttpRequest, scope: ProjectScope, request_id: str) -> HttpResponse:
    """POST ("Reveal"): the one response with values in it, the current and the proposed value
    of every key, read and audited (``change_request.value_revealed``) by the selector; refused
    (403, audited) for a viewer who may not read values there. GET ("Hide"): the masked table
    again; reads nothing."""
    change_request = selectors.change_request_get_for(scope, request_id)
    request.secret_response = True  # type: ignore[attr-defined]  # SecurityHeadersMiddleware: no-store
    page = _review_page(scope, change_request)
    context: dict[str, Any] = {**_project_context(scope), "cr": change_request, "page": page}
    if request.method == "POST":
        try:
            revealed = selectors.change_request_diff(change_request, scope, reveal=True)
        except DomainError as exc:
            context["values_error"] = exc.message
            return no_store(page_or_partial(request, DETAIL_PAGE, context, partial="changes", status=exc.status))
        by_position = {row["position"]: row for row in revealed}
        for row in page.items:
            row["oldValue"] = by_position[row["position"]]["oldValue"]
            row["newValue"] = by_position[row["position"]]["newValue"]
        context["revealed"] = True
    return no_store(page_or_partial(request, DETAIL_PAGE, context, partial="changes"))

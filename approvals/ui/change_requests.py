"""Change-request review pages: the project's list (open / merged / closed / expired) and one
request with its proposed changes, reviews, comments and actions. Views parse, call a service or
selector, render; who may do what is decided by ``approvals.services`` / ``approvals.selectors``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from approvals.models import ChangeRequest, RequestStatus
from secrets_app.errors import NotFound
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.shortcuts import page_or_partial, project_view

LIST_PAGE = "approvals/change_requests.html"
DETAIL_PAGE = "approvals/change_request_detail.html"
TABS = [(status.value, status.label) for status in RequestStatus]


def _project_context(scope: ProjectScope) -> dict[str, Any]:
    return {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "approvals",
        "can_see_members": True,
        "can_see_audit": scope.access.can("audit.read"),
    }


@require_GET
@project_view
def change_request_list_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    status = request.GET.get("status") or RequestStatus.OPEN
    if status not in RequestStatus.values:
        status = RequestStatus.OPEN
    requests = ChangeRequest.objects.filter(project=scope.project)
    counts = {value: requests.filter(status=value).count() for value, _ in TABS}
    context = {
        **_project_context(scope),
        "status": status,
        "tabs": [(value, label, counts[value]) for value, label in TABS],
        "change_requests": requests.filter(status=status).select_related("environment", "policy")[:200],
    }
    return page_or_partial(request, LIST_PAGE, context, partial="list")


@require_GET
@project_view
def change_request_detail_page(request: HttpRequest, scope: ProjectScope, public_id: Any) -> HttpResponse:
    change_request = (
        ChangeRequest.objects.filter(project=scope.project, public_id=public_id)
        .select_related("environment", "policy", "committer_user", "committer_identity")
        .first()
    )
    if change_request is None:
        raise NotFound("Change request not found")
    context = {**_project_context(scope), "cr": change_request}
    return page_or_partial(request, DETAIL_PAGE, context)

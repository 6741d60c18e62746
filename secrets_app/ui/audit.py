"""The project audit log viewer: filters (hx-get + hx-push-url) and "load more" pages.
Needs ``audit.read``; every page read is itself recorded (``audit.log_read``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.audit_log import project_audit_actions, project_audit_page
from secrets_app.selectors.projects import environment_list
from secrets_app.ui.forms import AuditFilterForm
from secrets_app.ui.shortcuts import is_htmx, page_or_partial, project_view

PAGE = "pages/audit.html"


@require_GET
@project_view
def audit_log(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Full page; ``#results`` when filters change; ``#more_rows`` for the next page (``before``)."""
    form = AuditFilterForm(request.GET or None, environments=[env.slug for env in environment_list(scope)])
    valid = form.is_valid() if request.GET else True
    filters = form.filters() if valid and request.GET else {}
    before = form.cleaned_data.get("before") if valid and request.GET else None
    page = project_audit_page(scope, filters=filters, before=before) if valid else None
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "audit",
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "actions": project_audit_actions(scope),
        "can_see_members": scope.access.can("members.read"),
        "can_see_audit": True,
    }
    partial = None
    if is_htmx(request):
        partial = "more_rows" if before else "results"
    return page_or_partial(request, PAGE, context, partial=partial, status=200 if valid else 422)

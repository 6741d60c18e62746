"""Least-privilege pages: the project's identities with their proposals and an Apply button each
(htmx swaps the row), and one identity's "granted vs delivered" page
(``governance:identity_access``, kwargs ``project`` slug and ``identity`` public id)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.selectors.least_privilege import (
    DEFAULT_DAYS,
    IdentityAccess,
    clean_days,
    identity_access,
    least_privilege_proposals,
)
from governance.services.least_privilege import least_privilege_apply
from governance.ui.header import project_header
from secrets_app.errors import ValidationFailed
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.framework import is_htmx, page_or_partial, project_view, redirect_to

LIST_PAGE = "governance/least_privilege.html"
IDENTITY_PAGE = "governance/identity_access.html"


def _days(request: HttpRequest) -> int:
    try:
        return clean_days(request.GET.get("days") or request.POST.get("days"))
    except ValidationFailed:
        return DEFAULT_DAYS


def _context(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    return {
        **project_header(scope.project, scope.access),
        # Offered only to those the service would let through (it checks again, and containment).
        "can_apply": scope.access.can("members.manage") and scope.access.can("roles.manage"),
        **extra,
    }


@project_view
def least_privilege_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    days = _days(request)
    accesses = least_privilege_proposals(scope, days=days)
    if request.GET.get("format") == "csv":
        from governance.selectors.least_privilege import proposal_rows_csv
        from governance.ui.views_dashboard import _csv

        return _csv(proposal_rows_csv(accesses), f"{scope.project.slug}-least-privilege-{days}d.csv")  # type: ignore[return-value]
    return page_or_partial(
        request, LIST_PAGE, _context(scope, accesses=accesses, days=days, windows=(7, 30, 90)), partial="table"
    )


@require_POST
@project_view
def least_privilege_apply_view(request: HttpRequest, scope: ProjectScope, identity: uuid.UUID) -> HttpResponse:
    days = _days(request)
    after: IdentityAccess = least_privilege_apply(
        scope=scope, identity=identity, days=days, fingerprint=request.POST.get("fingerprint") or None
    )
    if is_htmx(request) and request.POST.get("from") == "list":
        return page_or_partial(
            request, LIST_PAGE, _context(scope, access=after, days=days, applied=True), partial="row"
        )
    url = reverse("governance:identity_access", kwargs={"project": scope.project.slug, "identity": identity})
    return redirect_to(request, f"{url}?days={days}&applied=1")


def identity_access_page(request: HttpRequest, project: str, identity: uuid.UUID) -> HttpResponse:
    return _identity_access(request, project, identity)


@project_view
def _identity_access(request: HttpRequest, scope: ProjectScope, identity: uuid.UUID) -> HttpResponse:
    days = _days(request)
    access = identity_access(scope, identity, days=days)
    context = _context(scope, access=access, days=days, windows=(7, 30, 90), applied=request.GET.get("applied") == "1")
    return page_or_partial(request, IDENTITY_PAGE, context)

"""What every estate page shares: the access decision (organization admins only, through
``estate.access.estate_organization``) and domain errors as pages or htmx toasts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from estate.access import estate_organization
from estate.models import FindingKind, ResourceKind, Severity
from secrets_app.errors import DomainError
from secrets_app.ui.framework import error_response, login_required, principal_of

View = Callable[..., HttpResponse]

SEVERITY_ORDER = [value for value, _ in Severity.choices]
KIND_LABELS = dict(ResourceKind.choices)
FINDING_LABELS = dict(FindingKind.choices)
SEVERITY_LABELS = dict(Severity.choices)


def estate_view(view: View) -> View:
    """``org_slug`` → the Organization whose estate the caller may see (404 outside it, 403 for a
    member who is not an admin, audited); a DomainError escaping the view becomes a page (or, for
    htmx, a toast)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            organization = estate_organization(principal_of(request), org_slug)
            response = view(request, organization, *args, **kwargs)
        except DomainError as exc:
            response = error_response(request, exc)
        # Names of groups, pipelines and variables: nothing to keep in a shared cache.
        response.setdefault("Cache-Control", "private, no-store")
        return response

    return wrapper


def counted(mapping: Any, labels: dict[str, str], order: list[str] | None = None) -> list[dict[str, Any]]:
    """``{"kind": n}`` (or a list of ``{"kind"|"severity", "count"}``) as rows with labels, in
    *order* when given (else by count), zero counts left out."""
    if isinstance(mapping, dict):
        pairs = [(str(key), int(value or 0)) for key, value in mapping.items()]
    else:
        pairs = [
            (str(row.get("kind") or row.get("severity") or row.get("key")), int(row.get("count") or row.get("n") or 0))
            for row in mapping or []
        ]
    rows: list[dict[str, Any]] = [
        {"key": key, "label": labels.get(key, key), "count": count} for key, count in pairs if count
    ]
    if order:
        rows.sort(key=lambda row: order.index(row["key"]) if row["key"] in order else len(order))
    else:
        rows.sort(key=lambda row: (-row["count"], row["label"]))
    return rows

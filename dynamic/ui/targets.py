"""The organization's dynamic secret target allowlist page (org admins): where dynamic secrets and
rotations may connect. One textarea, one entry per line; the service validates and audits."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from dynamic.services.targets import target_allowlist_get, target_allowlist_set
from secrets_app.errors import DomainError
from secrets_app.models import Organization
from secrets_app.ui.framework import org_view, page_or_partial, principal_of

PAGE = "dynamic/targets.html"


@require_http_methods(["GET", "POST"])
@org_view
def target_allowlist_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    principal = principal_of(request)
    current = target_allowlist_get(principal=principal, organization=organization)
    context: dict[str, object] = {"organization": organization, "nav": "people"}
    status = 200
    if request.method == "POST":
        text = request.POST.get("entries", "")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        context["text"] = text
        try:
            saved = target_allowlist_set(principal=principal, organization=organization, entries=lines)
        except DomainError as exc:
            context["error"] = exc.message.replace("entries", "Entry", 1) if exc.message else "Check the entries."
            status = exc.status
        else:
            context["text"] = "\n".join(saved)
            context["notice"] = (
                f"Saved: {len(saved)} entr{'y' if len(saved) == 1 else 'ies'}."
                if saved
                else "Saved: no target allowed."
            )
    else:
        context["text"] = "\n".join(current)
    return page_or_partial(request, PAGE, context, partial="allowlist", status=status)

"""Rotation policies in the UI: the policy form on the secret panel and the "Due for rotation" page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from secrets_app.errors import DomainError
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.rotation_policies import secrets_due
from secrets_app.services.rotation_policies import secret_rotation_policy_set
from secrets_app.ui.framework import apply_domain_error, page_or_partial, project_view, render_fragments
from secrets_app.ui.secrets import PANEL, _address, _panel_context, _rotation_form

DUE_PAGE = "pages/secrets_due.html"


@require_POST
@project_view
def secret_rotation_policy(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Save the policy form of the panel; answers with the panel (422 with the form's errors)."""
    environment, path, key = _address(request.POST)
    form = _rotation_form(scope, request.POST)
    if form.is_valid():
        try:
            secret_rotation_policy_set(
                scope=scope,
                environment=environment,
                path=path,
                key=key,
                interval_days=form.cleaned_data["interval_days"],
                owner_id=form.cleaned_data["owner"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            context = _panel_context(scope, environment, path, key, notice=f"Saved the rotation policy of {key}.")
            return render_fragments(request, [(f"{PANEL}#panel", context)])
    context = _panel_context(scope, environment, path, key, rotation_form=form, open_rotation=True)
    return page_or_partial(request, PANEL, context, partial="panel", status=422)


@require_GET
@project_view
def secrets_due_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Overdue and due-soon secrets of the project (names only, as the caller may list them)."""
    context = {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "due",
        "entries": secrets_due(scope),
    }
    return page_or_partial(request, DUE_PAGE, context)

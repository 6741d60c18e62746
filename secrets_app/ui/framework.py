"""What every UI view shares: login and project decorators, domain errors as pages or fragments,
and rendering a page or one of its partials from the same template."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from secrets_app.errors import DomainError, NotFound, PermissionDenied
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope
from secrets_app.services.people import organization_get_for_principal

View = Callable[..., HttpResponse]

# Domain field names (API spelling) → form field names.
_FIELD_ALIASES = {
    "newKey": "new_key",
    "sourcePath": "source_path",
    "sourceEnvironment": "source_environment",
    "expiresInDays": "expires_in_days",
    "secretPath": "path",
}


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def redirect_to(request: HttpRequest, url: str) -> HttpResponse:
    """Go to *url* after a form: htmx follows ``HX-Redirect`` on a 204, a plain form a 302."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def login_required(view: View) -> View:
    """Anonymous callers go to the login page; an htmx call is told to redirect the whole page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if is_htmx(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("ui:login")
                return response
            return redirect_to_login(request.get_full_path(), reverse("ui:login"))
        return view(request, *args, **kwargs)

    return wrapper


def principal_of(request: HttpRequest) -> Principal:
    return Principal.for_user(request.user)


# What a refusal page may offer (approvals' "Request access"): registered at startup by apps the
# core must not import. An offer gets (request, project slug or id, environment, path) and returns
# {"label": ..., "url": ...} or None; it must answer None to people outside the project's
# organization, so a refusal never tells them the project exists.
RefusalOffer = Callable[[HttpRequest, str, str, str], "dict[str, str] | None"]
_refusal_offers: list[RefusalOffer] = []


def refusal_offer_register(offer: RefusalOffer) -> None:
    """Idempotent: registering the same offer twice keeps one."""
    if offer not in _refusal_offers:
        _refusal_offers.append(offer)


def _refusal_offers_for(request: HttpRequest, project_ref: str) -> list[dict[str, str]]:
    if not request.user.is_authenticated:
        return []
    environment = request.GET.get("environment") or request.GET.get("env") or ""
    path = request.GET.get("path") or "/"
    offers = []
    for offer in _refusal_offers:
        made = offer(request, project_ref, environment, path)
        if made:
            offers.append(made)
    return offers


def project_view(view: View) -> View:
    """Resolve ``slug`` to a ProjectScope (404 for projects the caller may not see) and turn a
    DomainError that escapes the view into a 403/404/4xx page or fragment."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scope = project_scope(principal_of(request), slug)
            return view(request, scope, *args, **kwargs)
        except DomainError as exc:
            return error_response(request, exc, project_ref=slug)

    return wrapper


def org_view(view: View) -> View:
    """Resolve ``org_slug`` to an Organization the caller belongs to (404 otherwise, like a missing
    one) and turn a DomainError that escapes the view into a 403/404/4xx page or fragment."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            organization = organization_get_for_principal(principal_of(request), org_slug)
            return view(request, organization, *args, **kwargs)
        except DomainError as exc:
            return error_response(request, exc)

    return wrapper


def error_response(request: HttpRequest, exc: DomainError, *, project_ref: str | None = None) -> HttpResponse:
    """A 403/404/4xx page (or, for htmx, a toast). On a refusal inside a project (*project_ref*),
    the page carries the registered offers, e.g. "Request access"."""
    status = exc.status
    if isinstance(exc, NotFound):
        title, message = "Not found", "This page does not exist, or you do not have access to it."
    elif isinstance(exc, PermissionDenied):
        title, message = "Not allowed", exc.message
    else:
        title, message = "Something is not right", exc.message
    context: dict[str, Any] = {"title": title, "message": message, "status": status, "offers": []}
    if project_ref and isinstance(exc, NotFound | PermissionDenied):
        context["offers"] = _refusal_offers_for(request, project_ref)
    if is_htmx(request):
        # Nothing on the page is replaced by an error (it would wipe the form or the workspace the
        # request came from): the page shows a toast instead (static/js/app.js).
        response = render(request, "components/error.html", context, status=status)
        response["HX-Reswap"] = "none"
        response["HX-Trigger"] = json.dumps({"strongroom:error": {"message": f"{title}. {message}"}})
        return response
    return render(request, "pages/error.html", context, status=status)


def page_or_partial(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str | None = None, status: int = 200
) -> HttpResponse:
    """The whole page, or (for htmx) only *partial* of the same template."""
    name = f"{template}#{partial}" if partial and is_htmx(request) else template
    return render(request, name, context, status=status)


def render_fragments(
    request: HttpRequest, parts: list[tuple[str, dict[str, Any]]], *, status: int = 200
) -> HttpResponse:
    """Several partials in one response: the first is the swap target, the rest carry
    ``hx-swap-oob`` (templates add it when ``oob`` is true in their context)."""
    body = "".join(render_to_string(name, context, request=request) for name, context in parts)
    return HttpResponse(body, status=status)


def apply_domain_error(form: forms.Form, exc: DomainError, *, aliases: dict[str, str] | None = None) -> None:
    """Show a DomainError on the form: next to the (visible) field it names, else above the form.
    *aliases* maps the service's field names to this form's where they differ. A refusal is not a
    form error: PermissionDenied is raised again, for ``project_view`` to answer 403."""
    if isinstance(exc, PermissionDenied):
        raise exc
    placed = False
    for name, messages in exc.fields.items():
        field = (aliases or {}).get(name) or _FIELD_ALIASES.get(name, name)
        if field in form.fields and form.fields[field].widget.is_hidden:
            continue  # a hidden field cannot show an error: the message goes above the form
        prefix = ""
        if field not in form.fields:
            # "rules[2].path" belongs to the "rules" field; say which row.
            field, prefix = re.split(r"[\[.]", field)[0], f"{name}: "
        if field in form.fields:
            for message in messages:
                form.add_error(field, prefix + message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response

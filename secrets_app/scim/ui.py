"""Directory provisioning (SCIM) for org admins: the tenant URL to give the directory, its bearer
tokens (created and shown once, listed by prefix, revoked). Services enforce who may."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from secrets_app.errors import DomainError
from secrets_app.models import Organization
from secrets_app.services.scim_tokens import scim_token_create, scim_token_list, scim_token_revoke
from secrets_app.ui.forms import UIForm
from secrets_app.ui.framework import apply_domain_error, no_store, org_view, page_or_partial, principal_of

PAGE = "pages/scim_tokens.html"


class ScimTokenForm(UIForm):
    id_prefix = "scim-token"
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. Entra ID provisioning"})
    )


def _context(request: HttpRequest, organization: Organization, **extra: Any) -> dict[str, Any]:
    return {
        "organization": organization,
        "nav": "people",
        "tokens": scim_token_list(principal=principal_of(request), organization=organization),
        "tenant_url": request.build_absolute_uri("/scim/v2/"),
        "form": ScimTokenForm(),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@org_view
def scim_tokens_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the tokens (org admins only: 403 for others). POST: create one, shown in this response only."""
    if request.method == "GET":
        return page_or_partial(request, PAGE, _context(request, organization), partial="scim_tokens")
    form = ScimTokenForm(request.POST)
    if form.is_valid():
        try:
            token, raw = scim_token_create(
                principal=principal_of(request), organization=organization, name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            context = _context(request, organization, new_token=raw, new_token_name=token.name)
            return no_store(page_or_partial(request, PAGE, context, partial="scim_tokens"))
    context = _context(request, organization, form=form)
    return page_or_partial(request, PAGE, context, partial="scim_tokens", status=422)


@require_POST
@org_view
def scim_token_revoke_view(request: HttpRequest, organization: Organization, token_id: int) -> HttpResponse:
    token = scim_token_revoke(principal=principal_of(request), organization=organization, token_id=token_id)
    notice = f"Revoked “{token.name}”: the directory's next request with it is refused."
    return page_or_partial(request, PAGE, _context(request, organization, notice=notice), partial="scim_tokens")

"""Signing in with the organization's identity provider, and the org admin's SSO settings page.

``/login/sso/`` asks for a work e-mail and finds the organization by its domain (or
``/login/sso/<org>/`` starts directly); the person is sent to the provider with state, nonce and
a PKCE challenge kept in their session, and ``/login/sso/callback/`` finishes. SSO accounts skip
Strongroom's TOTP: the identity provider's MFA applies.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from secrets_app import outbound
from secrets_app.errors import DomainError, NotFound
from secrets_app.middleware import CONTENT_SECURITY_POLICY
from secrets_app.models import Organization, OrganizationSso
from secrets_app.selectors.sso import sso_config_for_email, sso_config_for_slug
from secrets_app.services.sso import sso_config_delete, sso_config_get, sso_config_set
from secrets_app.services.sso_login import (
    SsoPending,
    SsoRefused,
    sso_authorization_begin,
    sso_login_complete,
    sso_login_failure_record,
)
from secrets_app.sessions import session_mark_sso
from secrets_app.ui.auth import _next_url
from secrets_app.ui.framework import apply_domain_error, org_view, page_or_partial, principal_of
from secrets_app.ui.sso_forms import SsoConfigForm, SsoStartForm

PENDING_KEY = "strongroom_sso_pending"
BACKEND = "django.contrib.auth.backends.ModelBackend"
FIELD_ALIASES = {
    "issuer": "issuer_url",
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "allowedDomains": "allowed_domains",
    "allowedGroupIds": "allowed_group_ids",
    "claimEmail": "claim_email",
    "claimName": "claim_name",
    "claimGroups": "claim_groups",
    "breakGlassEmails": "break_glass_emails",
}


def _start_page(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """The e-mail form. Its POST is answered with a redirect to the identity provider, and browsers
    hold a form's redirects to the page's ``form-action``: this page (one e-mail field, no secret)
    lets forms lead to any https origin, and to the plain-http hosts the outbound allow-list names."""
    response = render(request, "pages/login_sso.html", context, status=status)
    extra = [f"http://{entry}:*" for entry in outbound.allowed_entries() if "/" not in entry and ":" not in entry]
    form_action = " ".join(["'self'", "https:", *extra])
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action {form_action}"
    )
    return response


def _refused(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    context = {"form": SsoStartForm(), "refusal": message, "next": _next_url(request)}
    return _start_page(request, context, status=status)


def _begin(request: HttpRequest, config: OrganizationSso) -> HttpResponse:
    redirect_uri = request.build_absolute_uri(reverse("ui:sso_callback"))
    try:
        url, pending = sso_authorization_begin(config=config, redirect_uri=redirect_uri, next_url=_next_url(request))
    except SsoRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    request.session[PENDING_KEY] = pending.as_session()
    return redirect(url)


@require_http_methods(["GET", "POST"])
def sso_start(request: HttpRequest) -> HttpResponse:
    """GET: the e-mail form. POST: find the organization by the e-mail's domain and start."""
    form = SsoStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        config = sso_config_for_email(form.cleaned_data["email"])
        if config is not None:
            return _begin(request, config)
        form.add_error("email", "No organization signs in people of this domain with SSO. Use your password.")
        return _start_page(request, {"form": form, "next": _next_url(request)}, status=404)
    return _start_page(request, {"form": form, "next": _next_url(request)})


@require_GET
def sso_org_start(request: HttpRequest, org_slug: str) -> HttpResponse:
    config = sso_config_for_slug(org_slug)
    if config is None:
        return _refused(request, "This organization does not sign in with SSO.", status=404)
    return _begin(request, config)


@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    pending = SsoPending.from_session(request.session.pop(PENDING_KEY, None))
    if pending is None:
        return _refused(request, "This sign-in expired or did not start here. Start again.", status=400)
    if request.GET.get("error"):
        # The provider refused (the person cancelled, or is not assigned to the app): its words, not ours.
        description = request.GET.get("error_description", "")[:300] or request.GET["error"][:100]
        config = OrganizationSso.objects.filter(organization_id=pending.organization_id).first()
        sso_login_failure_record(config=config, reason=f"provider_error:{request.GET['error'][:60]}")
        return _refused(request, f"Your identity provider did not sign you in: {description}", status=403)
    try:
        user = sso_login_complete(pending=pending, code=request.GET.get("code", ""), state=request.GET.get("state", ""))
    except SsoRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    login(request, user, backend=BACKEND)
    organization = Organization.objects.filter(pk=pending.organization_id).values_list("slug", flat=True).first()
    if organization:
        session_mark_sso(request.session, organization)
    return redirect(pending.next_url)


# --- the org admin's page ----------------------------------------------------------------------


def _initial(config: OrganizationSso) -> dict[str, Any]:
    return {
        "issuer_url": config.issuer_url,
        "client_id": config.client_id,
        "allowed_domains": "\n".join(config.allowed_domains),
        "allowed_group_ids": "\n".join(config.allowed_group_ids),
        "claim_email": config.claim_email,
        "claim_name": config.claim_name,
        "claim_groups": config.claim_groups,
        "require_sso": config.require_sso,
        "break_glass_emails": "\n".join(user.email for user in config.break_glass_users.all()),
    }


def _page(
    request: HttpRequest, organization: Organization, form: SsoConfigForm | None, *, status: int = 200, **extra: Any
) -> HttpResponse:
    principal = principal_of(request)
    try:
        config: OrganizationSso | None = sso_config_get(principal=principal, organization=organization)
    except NotFound:
        config = None
    if form is None:
        form = SsoConfigForm(initial=_initial(config)) if config else SsoConfigForm()
    context = {
        "organization": organization,
        "nav": "people",
        "config": config,
        "form": form,
        "redirect_uri": request.build_absolute_uri(reverse("ui:sso_callback")),
        "sign_in_url": request.build_absolute_uri(reverse("ui:sso_org_start", args=[organization.slug])),
        **extra,
    }
    return page_or_partial(request, "pages/org_sso.html", context, partial="sso_section", status=status)


@require_http_methods(["GET", "POST"])
@org_view
def org_sso_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Org admins only (the services refuse others, audited): GET shows, POST saves, POST with
    ``remove`` turns single sign-on off."""
    principal = principal_of(request)
    if request.method == "GET":
        return _page(request, organization, None)
    if request.POST.get("remove"):
        try:
            sso_config_delete(principal=principal, organization=organization)
        except NotFound:
            pass
        return _page(request, organization, SsoConfigForm(), notice="Single sign-on is off.")
    form = SsoConfigForm(request.POST)
    if form.is_valid():
        try:
            sso_config_set(principal=principal, organization=organization, **form.service_arguments())
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=FIELD_ALIASES)
        else:
            return _page(request, organization, None, notice="Single sign-on saved.")
    return _page(request, organization, form, status=422)

"""Machine identities in the web UI (org admins): the list and create form, and one page per
identity with its project roles, universal auth settings, client secrets (a new one is shown
once, never cached) and "revoke all tokens". Services enforce every rule; views parse and render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.identities import services
from secrets_app.identities.selectors import (
    client_secret_list,
    identity_get_for_principal,
    identity_list,
    identity_live_token_count,
    identity_memberships_of,
    identity_universal_auth,
)
from secrets_app.models import BuiltinRole, MachineIdentity, Organization, Project, Role
from secrets_app.selectors.access import project_scope
from secrets_app.ui.forms import UIForm
from secrets_app.ui.shortcuts import apply_domain_error, no_store, org_view, page_or_partial, principal_of

LIST_PAGE = "pages/identities.html"
DETAIL_PAGE = "pages/identity.html"


class IdentityCreateForm(UIForm):
    id_prefix = "identity"
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. azure-pipeline-prod"})
    )


class IdentityMembershipForm(UIForm):
    id_prefix = "identity-project"
    project = forms.ChoiceField(label="Project")
    role = forms.ChoiceField(label="Role")


class UniversalAuthForm(UIForm):
    id_prefix = "universal"
    access_token_ttl = forms.IntegerField(label="Access token TTL (s)", min_value=1)
    access_token_max_ttl = forms.IntegerField(label="Access token max TTL (s)", min_value=1)
    access_token_num_uses_limit = forms.IntegerField(label="Token use limit", min_value=0, help_text="0 = unlimited")
    access_token_trusted_ips = forms.CharField(
        label="Token trusted IPs", required=False, help_text="Comma-separated CIDRs; empty = anywhere"
    )
    client_secret_trusted_ips = forms.CharField(
        label="Client secret trusted IPs", required=False, help_text="Comma-separated CIDRs; empty = anywhere"
    )
    lockout_enabled = forms.BooleanField(label="Lock out after failed logins", required=False)
    lockout_threshold = forms.IntegerField(label="Failures before lockout", min_value=1, max_value=30)
    lockout_duration_seconds = forms.IntegerField(label="Lockout (s)", min_value=30, max_value=86_400)
    lockout_counter_reset_seconds = forms.IntegerField(label="Failure window (s)", min_value=5, max_value=3_600)


class ClientSecretForm(UIForm):
    id_prefix = "client-secret"
    description = forms.CharField(label="Description", required=False, max_length=200)
    ttl_seconds = forms.IntegerField(label="TTL (s)", min_value=0, initial=0, help_text="0 = never expires")
    num_uses_limit = forms.IntegerField(label="Use limit", min_value=0, initial=0, help_text="0 = unlimited")
    trusted_ips = forms.CharField(label="Trusted IPs", required=False, help_text="Comma-separated CIDRs")


_UNIVERSAL_ALIASES = {
    "accessTokenTTL": "access_token_ttl",
    "accessTokenMaxTTL": "access_token_max_ttl",
    "trustedIps": "trusted_ips",
    "ttl": "ttl_seconds",
    "numUsesLimit": "num_uses_limit",
}


def _universal_form(config: Any) -> UniversalAuthForm:
    initial = {
        field: getattr(config, field)
        for field in (
            "access_token_ttl",
            "access_token_max_ttl",
            "access_token_num_uses_limit",
            "lockout_enabled",
            "lockout_threshold",
            "lockout_duration_seconds",
            "lockout_counter_reset_seconds",
        )
    }
    initial["access_token_trusted_ips"] = ", ".join(config.access_token_trusted_ips or [])
    initial["client_secret_trusted_ips"] = ", ".join(config.client_secret_trusted_ips or [])
    return UniversalAuthForm(initial=initial)


def _membership_form(organization: Organization, data: Any = None) -> IdentityMembershipForm:
    form = IdentityMembershipForm(data)
    projects = Project.objects.filter(organization=organization).order_by("name")
    form.fields["project"].choices = [(p.slug, p.name) for p in projects]
    customs = sorted(set(Role.objects.filter(project__organization=organization).values_list("slug", flat=True)))
    form.fields["role"].choices = [(r, r) for r in BuiltinRole.values if r != "no-access"] + [(r, r) for r in customs]
    form.fields["role"].initial = BuiltinRole.VIEWER
    return form


# --- list -----------------------------------------------------------------------------------------------


def _list_section(request: HttpRequest, organization: Organization, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "organization": organization,
        "nav": "identities",
        "identities": identity_list(principal=principal_of(request), organization=organization),
        "create_form": IdentityCreateForm(),
        **extra,
    }
    return page_or_partial(request, LIST_PAGE, context, partial="identities_section", status=status)


@require_http_methods(["GET", "POST"])
@org_view
def identities_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the organization's identities. POST: create one (then open its page)."""
    if request.method == "GET":
        return _list_section(request, organization)
    form = IdentityCreateForm(request.POST)
    if form.is_valid():
        try:
            identity = services.identity_create(
                principal=principal_of(request), organization=organization, name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            target = reverse("ui:identity", args=[organization.slug, identity.public_id])
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            if not request.htmx:
                response = HttpResponse(status=303)
                response["Location"] = target
            return response
    return _list_section(request, organization, create_form=form, status=422)


# --- one identity ---------------------------------------------------------------------------------------


def _identity(request: HttpRequest, organization: Organization, identity_id: Any, action: str) -> MachineIdentity:
    identity = identity_get_for_principal(principal_of(request), identity_id, action=action)
    if identity.organization_id != organization.pk:
        from secrets_app.errors import NotFound

        raise NotFound("Identity not found")
    return identity


def _detail(
    request: HttpRequest, organization: Organization, identity: MachineIdentity, *, status: int = 200, **extra: Any
) -> HttpResponse:
    config = identity_universal_auth(identity)
    context = {
        "organization": organization,
        "nav": "identities",
        "identity": identity,
        "memberships": identity_memberships_of(identity),
        "membership_form": _membership_form(organization),
        "config": config,
        "universal_form": _universal_form(config) if config else None,
        "client_secrets": client_secret_list(identity=identity) if config else [],
        "secret_form": ClientSecretForm(),
        "live_tokens": identity_live_token_count(identity),
        **extra,
    }
    return page_or_partial(request, DETAIL_PAGE, context, partial="identity_section", status=status)


@require_http_methods(["GET"])
@org_view
def identity_page(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    return _detail(request, organization, _identity(request, organization, identity_id, "identities.read"))


@require_POST
@org_view
def identity_membership_add_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    identity = _identity(request, organization, identity_id, "identities.update")
    form = _membership_form(organization, request.POST)
    if not form.is_valid():
        return _detail(request, organization, identity, membership_form=form, status=422)
    try:
        scope = project_scope(principal_of(request), form.cleaned_data["project"])
        services.identity_membership_add(scope=scope, identity_id=identity.public_id, role=form.cleaned_data["role"])
    except DomainError as exc:
        apply_domain_error(form, exc)
        return _detail(request, organization, identity, membership_form=form, status=exc.status)
    notice = f"{identity.name} is now {form.cleaned_data['role']} in {scope.project.name}."
    return _detail(request, organization, identity, notice=notice)


@require_POST
@org_view
def identity_membership_remove_view(
    request: HttpRequest, organization: Organization, identity_id: Any, project: str
) -> HttpResponse:
    identity = _identity(request, organization, identity_id, "identities.update")
    try:
        scope = project_scope(principal_of(request), project)
        services.identity_membership_remove(scope=scope, identity_id=identity.public_id)
    except DomainError as exc:
        return _detail(request, organization, identity, error=exc.message, status=exc.status)
    return _detail(request, organization, identity, notice=f"Removed from {scope.project.name}.")


def _cidrs(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@require_POST
@org_view
def identity_universal_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    """Attach universal auth with defaults (no fields posted) or save its settings."""
    identity = _identity(request, organization, identity_id, "identities.update")
    principal = principal_of(request)
    if request.POST.get("attach"):
        services.universal_auth_configure(principal=principal, identity=identity, changes={})
        return _detail(request, organization, identity, notice="Universal auth attached. Create a client secret next.")
    form = UniversalAuthForm(request.POST)
    if not form.is_valid():
        return _detail(request, organization, identity, universal_form=form, status=422)
    changes = dict(form.cleaned_data)
    changes["access_token_trusted_ips"] = _cidrs(changes["access_token_trusted_ips"])
    changes["client_secret_trusted_ips"] = _cidrs(changes["client_secret_trusted_ips"])
    try:
        services.universal_auth_configure(principal=principal, identity=identity, changes=changes)
    except DomainError as exc:
        apply_domain_error(form, exc, aliases=_UNIVERSAL_ALIASES)
        return _detail(request, organization, identity, universal_form=form, status=exc.status)
    return _detail(request, organization, identity, notice="Universal auth settings saved.")


@require_POST
@org_view
def identity_client_secret_create_view(
    request: HttpRequest, organization: Organization, identity_id: Any
) -> HttpResponse:
    identity = _identity(request, organization, identity_id, "identities.update")
    form = ClientSecretForm(request.POST)
    if not form.is_valid():
        return _detail(request, organization, identity, secret_form=form, status=422)
    try:
        row, raw = services.client_secret_create(
            principal=principal_of(request),
            identity=identity,
            description=form.cleaned_data["description"],
            ttl_seconds=form.cleaned_data["ttl_seconds"],
            num_uses_limit=form.cleaned_data["num_uses_limit"],
            trusted_ips=_cidrs(form.cleaned_data["trusted_ips"]),
        )
    except (DomainError, ValidationFailed) as exc:
        apply_domain_error(form, exc, aliases=_UNIVERSAL_ALIASES)
        return _detail(request, organization, identity, secret_form=form, status=exc.status)
    # The client secret is in this response only: never cached.
    return no_store(_detail(request, organization, identity, new_secret=raw, new_secret_row=row))


@require_POST
@org_view
def identity_client_secret_revoke_view(
    request: HttpRequest, organization: Organization, identity_id: Any, secret_id: int
) -> HttpResponse:
    identity = _identity(request, organization, identity_id, "identities.update")
    try:
        row = services.client_secret_revoke(principal=principal_of(request), identity=identity, secret_id=secret_id)
    except DomainError as exc:
        return _detail(request, organization, identity, error=exc.message, status=exc.status)
    notice = f"Client secret {row.prefix}… revoked, with every token it issued."
    return _detail(request, organization, identity, notice=notice)


@require_POST
@org_view
def identity_tokens_revoke_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    identity = _identity(request, organization, identity_id, "identities.update")
    count = services.identity_tokens_revoke_all(principal=principal_of(request), identity=identity)
    return _detail(request, organization, identity, notice=f"Revoked {count} access token(s). New logins still work.")


@require_POST
@org_view
def identity_delete_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    identity = _identity(request, organization, identity_id, "identities.delete")
    services.identity_delete(principal=principal_of(request), identity=identity)
    target = reverse("ui:identities", args=[organization.slug])
    response = HttpResponse(status=204 if request.htmx else 303)
    response["HX-Redirect" if request.htmx else "Location"] = target
    return response

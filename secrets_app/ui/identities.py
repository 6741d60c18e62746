"""Machine identities in the web UI (org admins): the list and create form, and one page per
identity with its project roles, universal auth settings, client secrets (a new one is shown
once, never cached) and "revoke all tokens". Services enforce every rule; views parse and render."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.identities import services
from secrets_app.identities.jwt_auth import jwt_auth_configure, jwt_auth_remove
from secrets_app.identities.kubernetes_auth import kubernetes_auth_configure, kubernetes_auth_remove
from secrets_app.identities.login_common import identity_admin_check
from secrets_app.identities.oidc_auth import oidc_auth_configure, oidc_auth_remove
from secrets_app.identities.selectors import (
    client_secret_list,
    identity_get_for_principal,
    identity_list,
    identity_live_token_count,
    identity_memberships_of,
    identity_universal_auth,
)
from secrets_app.models import (
    AuthMethodKind,
    JwtAuth,
    KubernetesAuth,
    MachineIdentity,
    Organization,
)
from secrets_app.selectors.access import project_scope
from secrets_app.ui.framework import apply_domain_error, no_store, org_view, page_or_partial, principal_of
from secrets_app.ui.identity_forms import (
    _UNIVERSAL_ALIASES,
    ClientSecretForm,
    IdentityCreateForm,
    JwtAuthForm,
    KubernetesAuthForm,
    OidcAuthForm,
    UniversalAuthForm,
    _jwt_form,
    _kubernetes_form,
    _membership_form,
    _method_error,
    _oidc_form,
    _pems,
    _universal_form,
)

LIST_PAGE = "pages/identities.html"
DETAIL_PAGE = "pages/identity.html"


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
    try:
        identity_admin_check(principal_of(request), identity)
        can_configure = True
    except DomainError:
        can_configure = False
    jwt_config = JwtAuth.objects.filter(identity=identity, kind=AuthMethodKind.JWT).first()
    oidc_config = JwtAuth.objects.filter(identity=identity, kind=AuthMethodKind.OIDC).first()
    kubernetes_config = KubernetesAuth.objects.filter(identity=identity).first()
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
        "can_configure": can_configure,
        "jwt_config": jwt_config,
        "jwt_form": _jwt_form(jwt_config),
        "jwt_login_url": reverse("api:auth-jwt-login"),
        "oidc_config": oidc_config,
        "oidc_form": _oidc_form(oidc_config),
        "oidc_login_url": reverse("api:auth-oidc-login"),
        "kubernetes_config": kubernetes_config,
        "kubernetes_form": _kubernetes_form(kubernetes_config),
        "kubernetes_login_url": reverse("api:auth-kubernetes-login"),
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


def _admin_identity(request: HttpRequest, organization: Organization, identity_id: Any) -> MachineIdentity:
    identity = _identity(request, organization, identity_id, "identities.update")
    identity_admin_check(principal_of(request), identity)  # org admins only (403 otherwise)
    return identity


def _token_settings(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "access_token_ttl": data["access_token_ttl"],
        "access_token_max_ttl": data["access_token_max_ttl"],
        "access_token_num_uses_limit": data["access_token_num_uses_limit"],
        "access_token_trusted_ips": _cidrs(data["access_token_trusted_ips"]),
    }


def _bound(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "bound_issuer": data["bound_issuer"],
        "bound_audiences": data["bound_audiences"],
        "bound_subject": data["bound_subject"],
        "bound_claims": data["bound_claims"],
    }


@require_POST
@org_view
def identity_jwt_auth_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    """Create or replace JWT auth (org admins only)."""
    identity = _admin_identity(request, organization, identity_id)
    form = JwtAuthForm(request.POST)
    if not form.is_valid():
        return _detail(request, organization, identity, jwt_form=form, status=422)
    data = form.cleaned_data
    try:
        jwt_auth_configure(
            principal=principal_of(request),
            identity=identity,
            config_type=data["config_type"],
            jwks_url=data["jwks_url"],
            jwks_ca_cert=data["jwks_ca_cert"],
            public_keys=_pems(data["public_keys"]),
            **_bound(data),
            **_token_settings(data),
        )
    except DomainError as exc:
        _method_error(form, exc)
        return _detail(request, organization, identity, jwt_form=form, status=exc.status)
    return _detail(request, organization, identity, notice="JWT auth saved.")


@require_POST
@org_view
def identity_oidc_auth_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    """Create or replace OIDC auth (org admins only)."""
    identity = _admin_identity(request, organization, identity_id)
    form = OidcAuthForm(request.POST)
    if not form.is_valid():
        return _detail(request, organization, identity, oidc_form=form, status=422)
    data = form.cleaned_data
    try:
        oidc_auth_configure(
            principal=principal_of(request),
            identity=identity,
            oidc_discovery_url=data["oidc_discovery_url"],
            ca_cert=data["ca_cert"],
            **_bound(data),
            **_token_settings(data),
        )
    except DomainError as exc:
        _method_error(form, exc)
        return _detail(request, organization, identity, oidc_form=form, status=exc.status)
    return _detail(request, organization, identity, notice="OIDC auth saved.")


@require_POST
@org_view
def identity_kubernetes_auth_view(request: HttpRequest, organization: Organization, identity_id: Any) -> HttpResponse:
    """Create or replace Kubernetes auth (org admins only). The CA and reviewer JWT are write-only:
    empty keeps the stored value, the "clear" boxes remove it."""
    identity = _admin_identity(request, organization, identity_id)
    form = KubernetesAuthForm(request.POST)
    if not form.is_valid():
        return no_store(_detail(request, organization, identity, kubernetes_form=form, status=422))
    data = form.cleaned_data
    ca_cert: str | None = "" if data["clear_ca_cert"] else (data["ca_cert"].strip() or None)
    reviewer: str | None = "" if data["clear_token_reviewer_jwt"] else (data["token_reviewer_jwt"].strip() or None)
    try:
        kubernetes_auth_configure(
            principal=principal_of(request),
            identity=identity,
            kubernetes_host=data["kubernetes_host"],
            ca_cert=ca_cert,
            token_reviewer_jwt=reviewer,
            allowed_namespaces=data["allowed_namespaces"],
            allowed_names=data["allowed_names"],
            allowed_audience=data["allowed_audience"],
            **_token_settings(data),
        )
    except DomainError as exc:
        _method_error(form, exc)
        return no_store(_detail(request, organization, identity, kubernetes_form=form, status=exc.status))
    return no_store(_detail(request, organization, identity, notice="Kubernetes auth saved."))


_REMOVERS = {
    "jwt": (jwt_auth_remove, "JWT auth"),
    "oidc": (oidc_auth_remove, "OIDC auth"),
    "kubernetes": (kubernetes_auth_remove, "Kubernetes auth"),
}


@require_POST
@org_view
def identity_auth_method_remove_view(
    request: HttpRequest, organization: Organization, identity_id: Any, method: str
) -> HttpResponse:
    identity = _admin_identity(request, organization, identity_id)
    if method not in _REMOVERS:
        from secrets_app.errors import NotFound

        raise NotFound("No such auth method")
    remove, label = _REMOVERS[method]
    remove(principal=principal_of(request), identity=identity)
    return _detail(request, organization, identity, notice=f"{label} removed.")


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

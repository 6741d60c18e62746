"""Dynamic secret pages: define (a form per provider, tested live before it is saved), a dynamic
secret's settings and leases, take a lease (the credentials shown once), renew, revoke,
force-revoke, and the project's leases (the irrevocable ones flagged on the project page link here).

Thin: parse, call one service or selector, render. Controls the caller may not use are hidden;
the services refuse them anyway (403 page or toast, audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dynamic.models import DynamicSecret, Lease, LeaseStatus
from dynamic.providers.registry import PROVIDERS
from dynamic.providers.templates import DEFAULT_USERNAME_TEMPLATE
from dynamic.selectors import dynamic_secret_by_id, lease_get, lease_list
from dynamic.services.common import LEASE, MANAGE, provider_for, require_manage
from dynamic.services.definitions import dynamic_secret_create, dynamic_secret_delete, dynamic_secret_update
from dynamic.services.leases import lease_create, lease_force_revoke, lease_renew, lease_revoke
from dynamic.ui.forms import (
    DynamicSecretBaseForm,
    DynamicSecretDeleteForm,
    LeaseCreateForm,
    definition_form_class,
    definition_initial,
)
from secrets_app.errors import Conflict, DomainError, ValidationFailed
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.matrix import ColumnState, matrix_columns
from secrets_app.ui.framework import apply_domain_error, is_htmx, no_store, page_or_partial, project_view, redirect_to

FORM_PAGE = "dynamic/form.html"
DEFINITION_PAGE = "dynamic/secret.html"
LEASES_PAGE = "dynamic/leases.html"
LEASE_TABLE = "dynamic/_lease_table.html"
LEASE_STATUS_FILTERS = ("live", *LeaseStatus.values)


def _secret_url(secret: DynamicSecret, **query: str) -> str:
    url = reverse("dynamic_ui:secret", args=[secret.project.slug, secret.public_id])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


# --- define and edit ------------------------------------------------------------------------------


def _definable_environments(scope: ProjectScope, path: str) -> list[str]:
    """Environments whose folder at *path* exists, when the caller may define dynamic secrets."""
    if not scope.access.can(MANAGE):
        return []
    return [column.slug for column in matrix_columns(scope, path) if column.state != ColumnState.NO_FOLDER]


def _form_context(scope: ProjectScope, form: DynamicSecretBaseForm, **extra: Any) -> dict[str, Any]:
    return {
        "project": scope.project,
        "scope": scope,
        "role": scope.access.role,
        "nav": "secrets",
        "form": form,
        "provider": form.plugin_kind,
        "providers": PROVIDERS.kinds(),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@project_view
def dynamic_secret_new(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: the form of one provider (``?provider=``), pre-filled for it; htmx asks for the form
    alone when another provider is picked. POST: define, tested live before anything is saved."""
    data = request.POST if request.method == "POST" else request.GET
    path = canonical_path(data.get("path") or "/")
    environments = _definable_environments(scope, path)
    if not environments:
        require_manage(scope, environment=data.get("environment") or "", path=path)  # 403, audited
        raise ValidationFailed("path", f"No folder at {path} in any environment: create it first")
    kinds = [kind for kind, _ in PROVIDERS.kinds()]
    kind = data.get("provider") or (kinds[0] if kinds else "")
    provider = provider_for(kind)
    form_class = definition_form_class(provider)
    initial = {"path": path, "environment": data.get("environment") or environments[0]}
    if request.method == "GET":
        form = form_class(initial=initial, environments=environments)
        context = _form_context(scope, form, path=path)
        return page_or_partial(request, FORM_PAGE, context, partial="definition_form")
    form = form_class(request.POST, initial=initial, environments=environments)
    if form.is_valid():
        try:
            secret = dynamic_secret_create(
                scope=scope,
                environment=form.cleaned_data["environment"],
                path=path,
                name=form.cleaned_data["name"],
                provider=provider.kind,
                definition=form.definition(),
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=form.error_aliases())
        else:
            return redirect_to(request, _secret_url(secret, saved="created"))
    context = _form_context(scope, form, path=path)
    return page_or_partial(request, FORM_PAGE, context, partial="definition_form", status=422)


@require_http_methods(["GET", "POST"])
@project_view
def dynamic_secret_edit(request: HttpRequest, scope: ProjectScope, secret_id: uuid.UUID) -> HttpResponse:
    """The definition's settings; root credentials are never shown (empty keeps them). A changed
    connection is tested live again before it is saved."""
    secret = dynamic_secret_by_id(scope, str(secret_id))
    require_manage(scope, environment=secret.environment.slug, path=secret.folder.path, resource=str(secret.public_id))
    provider = provider_for(secret.provider)
    form_class = definition_form_class(provider, editing=True)
    initial = definition_initial(secret, provider)
    form = form_class(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                dynamic_secret_update(
                    scope=scope,
                    secret=secret,
                    definition=form.definition(stored=secret),
                    new_name=form.cleaned_data["name"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc, aliases=form.error_aliases())
            else:
                return redirect_to(request, _secret_url(secret, saved="updated"))
        status = 422
    context = _form_context(scope, form, secret=secret, path=secret.folder.path)
    return page_or_partial(request, FORM_PAGE, context, partial="definition_form", status=status)


@require_POST
@project_view
def dynamic_secret_delete_view(request: HttpRequest, scope: ProjectScope, secret_id: uuid.UUID) -> HttpResponse:
    """Revoke every live lease, then delete; with ``force``, delete now and leave them in place."""
    secret = dynamic_secret_by_id(scope, str(secret_id))
    form = DynamicSecretDeleteForm(request.POST)
    force = form.is_valid() and bool(form.cleaned_data["force"])
    path = secret.folder.path
    outcome = dynamic_secret_delete(scope=scope, secret=secret, force=force)
    if not outcome.deleted:
        error = (
            f"Not deleted: {outcome.failed} lease(s) could not be revoked (they retry on their own). "
            "Delete again later, or force it."
        )
        if is_htmx(request):
            raise Conflict(error)  # a toast: the page stays as it is
        return _secret_page(request, scope, secret, page_error=error, status=409)
    url = reverse("ui:project_detail", args=[scope.project.slug]) + f"?path={path}"
    return redirect_to(request, url)


# --- a dynamic secret's page ------------------------------------------------------------------------


def _secret_context(scope: ProjectScope, secret: DynamicSecret, **extra: Any) -> dict[str, Any]:
    environment, path = secret.environment.slug, secret.folder.path
    can_lease = scope.access.can(LEASE, environment=environment, path=path, tags=())
    provider = provider_for(secret.provider)
    leases = lease_list(scope, secret=secret) if can_lease else []
    poll_url = _secret_url(secret, fragment="leases") if any(lease.is_live for lease in leases) else ""
    return {
        "project": scope.project,
        "scope": scope,
        "role": scope.access.role,
        "nav": "secrets",
        "secret": secret,
        "provider": provider,
        "config_fields": [
            (declared.label, secret.config.get(declared.name))
            for declared in provider.config_fields
            if secret.config.get(declared.name) not in (None, "")
        ],
        "credential_fields": [
            (declared.label, declared.name in (secret.credential_names or [])) for declared in provider.secret_fields
        ],
        "statements": [(kind, (secret.statements or {}).get(kind) or []) for kind in provider.statement_variables],
        "can_manage": scope.access.can(MANAGE),
        "can_lease": can_lease,
        "leases": leases,
        "poll_url": poll_url,
        "default_username_template": DEFAULT_USERNAME_TEMPLATE,
        "lease_form": LeaseCreateForm(),
        "delete_form": DynamicSecretDeleteForm(),
        "table_secret": secret,
        **extra,
    }


def _secret_page(
    request: HttpRequest, scope: ProjectScope, secret: DynamicSecret, *, status: int = 200, **extra: Any
) -> HttpResponse:
    return page_or_partial(request, DEFINITION_PAGE, _secret_context(scope, secret, **extra), status=status)


@require_GET
@project_view
def dynamic_secret_page(request: HttpRequest, scope: ProjectScope, secret_id: uuid.UUID) -> HttpResponse:
    """Settings and leases. ``?fragment=leases`` (htmx): the lease table alone (it refreshes itself)."""
    secret = dynamic_secret_by_id(scope, str(secret_id))
    saved = request.GET.get("saved")
    notice = {
        "created": "Dynamic secret saved: the connection test passed.",
        "updated": "Changes saved.",
    }.get(saved or "", "")
    if request.GET.get("fragment") == "leases" and is_htmx(request):
        return page_or_partial(request, LEASE_TABLE, _secret_context(scope, secret), partial="lease_table")
    return _secret_page(request, scope, secret, page_notice=notice)


@require_POST
@project_view
def lease_create_view(request: HttpRequest, scope: ProjectScope, secret_id: uuid.UUID) -> HttpResponse:
    """Take a lease. The credentials are in this one ``no-store`` answer and never again."""
    secret = dynamic_secret_by_id(scope, str(secret_id))
    form = LeaseCreateForm(request.POST)
    issued = None
    if form.is_valid():
        try:
            issued = lease_create(scope=scope, secret=secret, ttl=form.cleaned_data["ttl"] or None)
        except DomainError as exc:
            apply_domain_error(form, exc)
    request.secret_response = True  # type: ignore[attr-defined]  # SecurityHeadersMiddleware: no-store
    if issued is None:
        context = _secret_context(scope, secret, lease_form=form)
        return no_store(page_or_partial(request, DEFINITION_PAGE, context, partial="lease_card", status=422))
    context = _secret_context(
        scope,
        secret,
        issued=issued.lease,
        issued_data=list(issued.data.items()),
    )
    return no_store(page_or_partial(request, DEFINITION_PAGE, context, partial="lease_card"))


# --- leases ---------------------------------------------------------------------------------------


def _table_context(request: HttpRequest, scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    """The lease table a lease action came from: one dynamic secret's (``secret``) or the
    project's, filtered by ``status``."""
    secret_ref = request.POST.get("secret") or request.GET.get("secret")
    if secret_ref:
        secret = dynamic_secret_by_id(scope, secret_ref)
        return {**_secret_context(scope, secret), **extra}
    status = request.POST.get("status") or request.GET.get("status") or "live"
    return {**_leases_context(scope, status), **extra}


def _leases_context(scope: ProjectScope, status: str) -> dict[str, Any]:
    if status not in LEASE_STATUS_FILTERS:
        status = "live"
    leases = lease_list(scope, status=status)
    live = any(lease.is_live for lease in leases)
    poll_url = reverse("dynamic_ui:leases", args=[scope.project.slug]) + f"?fragment=leases&status={status}"
    return {
        "project": scope.project,
        "scope": scope,
        "role": scope.access.role,
        "nav": "secrets",
        "leases": leases,
        "poll_url": poll_url if live else "",
        "status": status,
        "statuses": [("live", "Live"), *LeaseStatus.choices],
        "can_manage": scope.access.can(MANAGE),
        "can_lease": True,  # lease_list lists only leases at places where the caller may lease
        "show_secret": True,
    }


@require_GET
@project_view
def lease_list_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The project's leases (``?status=live|active|failed|irrevocable|revoked``), only those at
    places where the caller may take leases."""
    context = _leases_context(scope, request.GET.get("status") or "live")
    if request.GET.get("fragment") == "leases" and is_htmx(request):
        return page_or_partial(request, LEASE_TABLE, context, partial="lease_table")
    return page_or_partial(request, LEASES_PAGE, context)


def _lease_action(
    request: HttpRequest, scope: ProjectScope, lease_id: uuid.UUID, act: Callable[[Lease], Lease], done: str
) -> HttpResponse:
    lease = lease_get(scope, str(lease_id))
    error = notice = ""
    try:
        lease = act(lease)
    except DomainError as exc:
        if exc.status == 403:
            raise
        error = exc.message if not exc.fields else "; ".join(m for ms in exc.fields.values() for m in ms)
        status = exc.status
    else:
        status = 200
        if lease.status == LeaseStatus.FAILED:
            error = f"Revocation of {lease.username} failed: {lease.last_error or 'unknown error'}. It is retried."
        else:
            notice = done.format(username=lease.username)
    context = _table_context(request, scope, notice=notice, error=error)
    if is_htmx(request):
        return page_or_partial(request, LEASE_TABLE, context, partial="lease_table", status=status)
    if context.get("secret") is not None:
        return page_or_partial(request, DEFINITION_PAGE, context, status=status)
    return page_or_partial(request, LEASES_PAGE, context, status=status)


@require_POST
@project_view
def lease_renew_view(request: HttpRequest, scope: ProjectScope, lease_id: uuid.UUID) -> HttpResponse:
    ttl = (request.POST.get("ttl") or "").strip() or None
    return _lease_action(
        request,
        scope,
        lease_id,
        lambda lease: lease_renew(scope=scope, lease=lease, ttl=ttl),
        "Lease of {username} renewed.",
    )


@require_POST
@project_view
def lease_revoke_view(request: HttpRequest, scope: ProjectScope, lease_id: uuid.UUID) -> HttpResponse:
    return _lease_action(
        request, scope, lease_id, lambda lease: lease_revoke(scope=scope, lease=lease), "Lease of {username} revoked."
    )


@require_POST
@project_view
def lease_force_revoke_view(request: HttpRequest, scope: ProjectScope, lease_id: uuid.UUID) -> HttpResponse:
    return _lease_action(
        request,
        scope,
        lease_id,
        lambda lease: lease_force_revoke(scope=scope, lease=lease),
        "Lease of {username} force-revoked. If the target never answered, the user may still exist: remove it by hand.",
    )

"""Connections (per organization) and syncs (per project): list, create, detail with status,
history and drift, "sync now", delete. Controls the caller may not use are hidden; services
enforce. The status card polls while a run is queued or running and stops with HTTP 286."""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from secrets_app.errors import DomainError, NotFound
from secrets_app.models import Environment, Organization
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.framework import (
    View,
    apply_domain_error,
    error_response,
    is_htmx,
    login_required,
    page_or_partial,
    principal_of,
    project_view,
    redirect_to,
)
from syncs.access import (
    connection_get_for,
    connection_list_for,
    connection_usable_in,
    organization_for_connections,
    sync_get,
)
from syncs.models import AppConnection, SyncStatus
from syncs.providers.base import SyncProvider
from syncs.providers.registry import PROVIDERS, provider_for
from syncs.selectors import drift_note, sync_list, sync_runs
from syncs.services.connections import connection_create, connection_delete, connection_test
from syncs.services.drift import sync_drift_adopt, sync_drift_check
from syncs.services.syncs import sync_create, sync_delete, sync_trigger
from syncs.ui.forms import (
    ConnectionBaseForm,
    SyncDeleteForm,
    SyncFormBase,
    connection_form,
    sync_form_class,
)

LIST_PAGE = "syncs/sync_list.html"
DETAIL_PAGE = "syncs/sync_detail.html"
CONNECTIONS_PAGE = "syncs/connections.html"
CONNECTION_FIELDS = "syncs/_connection_fields.html"
ACTIVE = (SyncStatus.QUEUED, SyncStatus.RUNNING)


def connections_view(view: View) -> View:
    """Resolve ``org_slug`` to an organization whose connections the caller manages (404 otherwise)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            organization = organization_for_connections(principal_of(request), org_slug)
            return view(request, organization, *args, **kwargs)
        except DomainError as exc:
            return error_response(request, exc)

    return wrapper


# --- connections ------------------------------------------------------------------------------
def _add_forms(bound: ConnectionBaseForm | None = None) -> list[tuple[SyncProvider, ConnectionBaseForm]]:
    """One "add" form per available destination kind (*bound* in place of its kind's)."""
    forms = []
    for kind, _ in PROVIDERS.kinds():
        provider = provider_for(kind)
        if not provider.methods:
            continue
        forms.append(
            (provider, bound if bound is not None and bound.provider is provider else connection_form(provider))
        )
    return forms


def _connections_context(request: HttpRequest, organization: Organization, **extra: Any) -> dict[str, Any]:
    principal = principal_of(request)
    bound = extra.pop("bound", None)
    add_forms = _add_forms(bound)
    context = {
        "organization": organization,
        "connections": connection_list_for(principal).filter(organization=organization),
        "add_forms": add_forms,
        "open_kind": bound.provider.kind if bound is not None else (add_forms[0][0].kind if add_forms else ""),
        "nav": "connections",
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
@connections_view
def connection_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the page; with ``kind`` and ``method`` (htmx, the method select changed) only that
    method's fields. POST (``kind`` names the form): save a connection, tested at once."""
    if request.method == "GET":
        kind = request.GET.get("kind", "")
        if kind and is_htmx(request):
            if kind not in PROVIDERS:
                raise NotFound("Unknown destination kind")
            form = connection_form(provider_for(kind), request.GET.get("method"))
            return render(request, f"{CONNECTION_FIELDS}#method_fields", {"form": form})
        return page_or_partial(request, CONNECTIONS_PAGE, _connections_context(request, organization))
    kind = request.POST.get("kind", "")
    if kind not in PROVIDERS:
        context = _connections_context(request, organization, error="Unknown destination kind.")
        return page_or_partial(request, CONNECTIONS_PAGE, context, partial="connections_section", status=400)
    provider = provider_for(kind)
    form = connection_form(provider, request.POST.get("method"), data=request.POST)
    if form.is_valid():
        config, credentials = form.plugin_values()  # type: ignore[attr-defined]
        try:
            connection = connection_create(
                principal=principal_of(request),
                organization=organization,
                kind=provider.kind,
                method=form.cleaned_data["method"],
                name=form.cleaned_data["name"],
                credentials=credentials,
                config=config,
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=form.error_aliases())
        else:
            ok, message = connection_test(principal=principal_of(request), connection=connection)
            outcome = (
                {"notice": f"Saved {connection.name}; test: {message}"}
                if ok
                else {"error": f"Saved {connection.name}, but the test failed: {message}"}
            )
            context = _connections_context(request, organization, **outcome)
            return page_or_partial(request, CONNECTIONS_PAGE, context, partial="connections_section")
    context = _connections_context(request, organization, bound=form)
    return page_or_partial(request, CONNECTIONS_PAGE, context, partial="connections_section", status=422)


@require_POST
@connections_view
def connection_test_view(request: HttpRequest, organization: Organization, connection_id: str) -> HttpResponse:
    connection = _org_connection(request, organization, connection_id)
    ok, message = connection_test(principal=principal_of(request), connection=connection)
    extra = {"notice": f"{connection.name}: {message}"} if ok else {"error": f"{connection.name}: {message}"}
    context = _connections_context(request, organization, **extra)
    return page_or_partial(request, CONNECTIONS_PAGE, context, partial="connections_section")


@require_POST
@connections_view
def connection_delete_view(request: HttpRequest, organization: Organization, connection_id: str) -> HttpResponse:
    principal = principal_of(request)
    connection = connection_get_for(principal, connection_id, for_change=True)
    if connection.organization_id != organization.pk:
        raise NotFound("Connection not found")
    try:
        connection_delete(principal=principal, connection=connection)
        extra = {"notice": f"Deleted {connection.name}."}
    except DomainError as exc:
        extra = {"error": exc.message}
    context = _connections_context(request, organization, **extra)
    return page_or_partial(request, CONNECTIONS_PAGE, context, partial="connections_section")


def _org_connection(request: HttpRequest, organization: Organization, connection_id: str) -> AppConnection:
    connection = connection_get_for(principal_of(request), connection_id)
    if connection.organization_id != organization.pk:
        raise NotFound("Connection not found")
    return connection


# --- syncs ------------------------------------------------------------------------------------
def _environments(scope: ProjectScope) -> list[str]:
    return [
        env.slug
        for env in Environment.objects.filter(project=scope.project)
        if scope.access.can_anywhere_in("secrets.read_value", env.slug)
    ]


def _list_context(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    can_manage = scope.access.can("syncs.manage")
    connections = list(AppConnection.objects.filter(organization_id=scope.project.organization_id).order_by("name"))
    context = {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "syncs",
        "can_manage": can_manage,
        "syncs": [_labelled(sync) for sync in sync_list(scope)],
        "connections": connections,
        "organization": scope.project.organization,
        "sync_forms": [_sync_form(provider, scope, connections) for provider in _sync_providers()],
        "active_kind": "",
    }
    context.update(extra)
    return context


def _sync_providers() -> list[SyncProvider]:
    """Every destination kind that imports and declares where a sync writes."""
    providers = [provider_for(kind) for kind, _ in PROVIDERS.kinds()]
    return [provider for provider in providers if provider.destination_fields]


def _sync_form(
    provider: SyncProvider, scope: ProjectScope, connections: list[AppConnection], data: Any = None
) -> SyncFormBase:
    """A create form offering only the connections of its destination kind."""
    choices = [(str(c.public_id), c.name) for c in connections if c.kind == provider.kind]
    return sync_form_class(provider)(data, environments=_environments(scope), connections=choices)


@require_http_methods(["GET", "POST"])
@project_view
def sync_list_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    if request.method == "GET":
        return page_or_partial(request, LIST_PAGE, _list_context(scope))
    context = _list_context(scope)
    providers = _sync_providers()
    # ``kind`` names the form; without it, the first destination kind's (forms of older pages).
    kind = request.POST.get("kind") or (providers[0].kind if providers else "")
    provider = next((item for item in providers if item.kind == kind), None)
    if provider is None:
        context["error"] = "Unknown destination kind."
        return page_or_partial(request, LIST_PAGE, context, partial="create_form", status=400)
    form = _sync_form(provider, scope, context["connections"], request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            sync = sync_create(
                scope=scope,
                name=data["name"],
                environment=data["environment"],
                path=data["path"],
                recursive=data["recursive"],
                connection=connection_usable_in(scope, data["connection"]),
                destination=form.destination(),
                provider_options=form.provider_options(),
                auto_sync=data["auto_sync"],
                initial_behavior=data["initial_behavior"],
                confirm_overwrite=data["confirm_overwrite"],
                key_name_template=data["key_name_template"],
                delete_on_source_removal=data["delete_on_source_removal"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=form.error_aliases())
        else:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = _detail_url(scope, sync)
            return response if request.headers.get("HX-Request") else redirect(_detail_url(scope, sync))
    context["sync_forms"] = [form if item.provider is provider else item for item in context["sync_forms"]]
    context["active_kind"] = provider.kind
    return page_or_partial(request, LIST_PAGE, context, partial="create_form", status=422)


def _detail_url(scope: ProjectScope, sync: Any) -> str:
    from django.urls import reverse

    return reverse("syncs_ui:sync_detail", args=[scope.project.slug, sync.public_id])


def _labelled(sync: Any) -> Any:
    try:
        sync.destination_label = provider_for(sync.connection.kind).describe_destination(sync.destination)
    except Exception:  # a provider that does not import here: its target key still names it
        sync.destination_label = sync.target_key
    return sync


def _detail_context(scope: ProjectScope, sync: Any, **extra: Any) -> dict[str, Any]:
    destination = _labelled(sync).destination_label
    context = {
        "project": scope.project,
        "role": scope.access.role,
        "nav": "syncs",
        "can_manage": scope.access.can("syncs.manage"),
        "sync": sync,
        "destination": destination,
        "runs": sync_runs(sync, limit=25),
        "managed_keys": list(sync.managed_keys.all()[:500]),
        "drift": list(sync.drift_entries.all()),
        "drift_note": drift_note(sync),
        "active": sync.status in ACTIVE,
        "delete_form": SyncDeleteForm(),
    }
    context.update(extra)
    return context


@require_http_methods(["GET"])
@project_view
def sync_detail_page(request: HttpRequest, scope: ProjectScope, sync_id: str) -> HttpResponse:
    sync = sync_get(scope, sync_id)
    context = _detail_context(scope, sync)
    if request.GET.get("fragment") == "status":
        response = page_or_partial(request, DETAIL_PAGE, context, partial="status_card")
        if not context["active"]:
            response.status_code = 286  # htmx: stop polling
        return response
    return page_or_partial(request, DETAIL_PAGE, context)


@require_POST
@project_view
def sync_run_view(request: HttpRequest, scope: ProjectScope, sync_id: str) -> HttpResponse:
    sync = sync_get(scope, sync_id)
    queued = sync_trigger(scope=scope, sync=sync, force=request.POST.get("overwrite") == "1")
    sync.refresh_from_db()
    notice = "Queued: a worker will run it in a moment." if queued else "A run is already queued or running."
    if request.POST.get("overwrite") == "1":
        notice = "Overwrite queued: the next run rewrites every managed variable from Strongroom."
    return page_or_partial(request, DETAIL_PAGE, _detail_context(scope, sync, notice=notice), partial="status_card")


@require_POST
@project_view
def sync_drift_view(request: HttpRequest, scope: ProjectScope, sync_id: str) -> HttpResponse:
    sync = sync_get(scope, sync_id)
    extra: dict[str, Any] = {}
    try:
        if request.POST.get("adopt"):
            adopted = sync_drift_adopt(scope=scope, sync=sync, name=request.POST["adopt"])
            extra["drift_notice"] = f"Adopted {adopted['name']} as a new version of {adopted['key']}."
        else:
            from syncs.access import require_syncs
            from syncs.providers.base import ProviderError
            from syncs.sanitize import safe_error

            require_syncs(scope, "syncs.manage", resource=str(sync.public_id))
            try:
                found = sync_drift_check(sync_id=sync.pk)
                extra["drift_notice"] = f"Checked: {len(found)} difference(s)." if found else "Checked: no drift."
            except ProviderError as exc:
                extra["drift_error"] = f"Could not read the destination: {safe_error(exc)}"
    except DomainError as exc:
        if exc.status == 403:
            raise
        extra["drift_error"] = exc.message
    sync.refresh_from_db()
    return page_or_partial(request, DETAIL_PAGE, _detail_context(scope, sync, **extra), partial="drift_card")


@require_POST
@project_view
def sync_delete_view(request: HttpRequest, scope: ProjectScope, sync_id: str) -> HttpResponse:
    sync = sync_get(scope, sync_id)
    form = SyncDeleteForm(request.POST)
    remove = form.is_valid() and form.cleaned_data["remove_managed"] == "delete"
    try:
        sync_delete(scope=scope, sync=sync, remove_managed=remove)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return page_or_partial(
            request, DETAIL_PAGE, _detail_context(scope, sync, error=exc.message), partial="status_card", status=409
        )
    from django.urls import reverse

    url = reverse("syncs_ui:sync_list", args=[scope.project.slug])
    return redirect_to(request, url)

"""The guided import of a variable group or pipeline into Strongroom, in four steps:

1. map (``import_new``): project / environment / path prefilled from ``import_suggest``, one key
   per variable and a skip box; POST records the import (``import_create``);
2. preview and apply (``import_detail``): what applying would do per variable (a Key Vault group
   asks for a Key Vault connection); "Import" applies it (``import_apply``);
3. values Azure DevOps does not return: one password input per variable that needs one, or a
   CSV (``import_values_enter`` / ``import_values_csv``); values are never echoed back;
4. manage the group with a Strongroom sync, after an explicit confirmation
   (``import_convert_to_sync``); and the pipeline YAML without the group (``import_pipeline_yaml``).

Thin: every read and write is a service or selector call that checks the caller's permissions at
the place and audits; the views parse the forms and say what happened."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from estate.models import EstateImport, EstateResource, ImportStatus, ItemStatus, ResourceKind
from estate.selectors.imports import import_get
from estate.selectors.inventory import resource_get
from estate.services.imports import (
    import_apply,
    import_convert_to_sync,
    import_create,
    import_pipeline_yaml,
    import_preview,
    import_suggest,
    import_values_csv,
    import_values_enter,
)
from estate.ui.forms import ConvertToSyncForm, ValuesCsvForm
from estate.ui.views_common import estate_view
from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.models import Environment, Organization, Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_list_for_principal
from secrets_app.ui.framework import no_store, page_or_partial, principal_of, redirect_to
from syncs.models import AppConnection, ConnectionKind

NEW_PAGE = "estate/import_new.html"
DETAIL_PAGE = "estate/import_detail.html"
NOTICES = {
    "created": "Mapping saved. Check what the import will do, then press Import.",
    "applied": "Imported.",
    "values": "Values saved as new secret versions.",
    "converted": "The sync was created and its first run queued: Strongroom now manages this group's variables.",
}


def _notice(code: str, estate_import: EstateImport) -> str | None:
    if code == "applied" and estate_import.status == ImportStatus.NEEDS_VALUES:
        return "Imported. Azure DevOps does not return secret values: enter the missing ones below."
    if code == "applied" and estate_import.status == ImportStatus.HELD:
        return "Sent for approval."
    return NOTICES.get(code)


def _message(exc: DomainError) -> str:
    fields = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in exc.fields.items())
    return f"{exc.message} ({fields})" if fields and fields not in exc.message else exc.message


# --- step 1: the mapping ---------------------------------------------------------------------


def mapping_from_post(post: Any, count: int) -> tuple[dict[str, str], list[str]]:
    """``name_<i>`` / ``key_<i>`` / ``skip_<i>`` rows → ({ADO name: key}, [skipped names])."""
    keys: dict[str, str] = {}
    skip: list[str] = []
    for index in range(count):
        name = post.get(f"name_{index}")
        if not name:
            continue
        if post.get(f"skip_{index}"):
            skip.append(name)
        key = (post.get(f"key_{index}") or "").strip()
        if key:
            keys[name] = key
    return keys, skip


def _variables(resource: EstateResource) -> list[dict[str, Any]]:
    return sorted(
        (v for v in (resource.details or {}).get("variables") or [] if isinstance(v, dict) and v.get("name")),
        key=lambda v: str(v["name"]).lower(),
    )


def _projects(principal: Principal, organization: Organization) -> list[Project]:
    return list(project_list_for_principal(principal).filter(organization=organization).order_by("name"))


def _map_context(
    request: HttpRequest, principal: Principal, organization: Organization, resource: EstateResource, data: Any
) -> dict[str, Any]:
    """The step-1 form: the suggestion, overridden by what the person already chose (*data*)."""
    suggestion = import_suggest(principal=principal, organization=organization, resource=resource)
    projects = _projects(principal, organization)
    chosen_slug = data.get("project") or (suggestion.project.slug if suggestion.project else "")
    project = next((p for p in projects if p.slug == chosen_slug), projects[0] if projects else None)
    environments = list(Environment.objects.filter(project=project).order_by("position")) if project else []
    wanted_env = data.get("environment") or suggestion.environment or ""
    environment = next((e.slug for e in environments if e.slug == wanted_env), "")
    rows = []
    for index, variable in enumerate(_variables(resource)):
        name = str(variable["name"])
        rows.append(
            {
                "index": index,
                "name": name,
                "key": data.get(f"key_{index}") or suggestion.keys.get(name, name),
                "skip": bool(data.get(f"skip_{index}")),
                "is_secret": bool(variable.get("is_secret")),
                "looks_secret": bool(variable.get("looks_secret")) and not variable.get("is_secret"),
            }
        )
    return {
        "organization": organization,
        "nav": "estate",
        "resource": resource,
        "projects": projects,
        "project": project,
        "environments": environments,
        "environment": environment,
        "path": data.get("path") or suggestion.path or "/",
        "rows": rows,
        "suggested": suggestion.project is not None,
        "is_key_vault": (resource.details or {}).get("type") == "AzureKeyVault",
        "error_fields": [],
    }


@require_http_methods(["GET", "POST"])
@estate_view
def import_new(request: HttpRequest, organization: Organization, resource: int) -> HttpResponse:
    """Step 1. GET: the form (htmx with ``project``: only its target fields, for the chosen
    project's environments). POST: record the mapping, then step 2."""
    principal = principal_of(request)
    found = resource_get(organization, resource)
    if found.kind not in (ResourceKind.VARIABLE_GROUP, ResourceKind.PIPELINE):
        raise ValidationFailed("resource", "only a variable group or a pipeline can be imported")
    if request.method == "POST":
        keys, skip = mapping_from_post(request.POST, len(_variables(found)))
        try:
            estate_import = import_create(
                principal=principal,
                organization=organization,
                resource=found,
                project=request.POST.get("project", ""),
                environment=request.POST.get("environment", ""),
                path=request.POST.get("path", "") or "/",
                keys=keys,
                skip=skip,
            )
        except DomainError as exc:
            context = _map_context(request, principal, organization, found, request.POST)
            context["error"] = _message(exc)
            context["error_fields"] = list(exc.fields)
            return page_or_partial(request, NEW_PAGE, context, status=exc.status)
        url = reverse("estate:import_detail", args=[organization.slug, estate_import.public_id])
        return redirect_to(request, f"{url}?notice=created")
    context = _map_context(request, principal, organization, found, request.GET)
    return page_or_partial(request, NEW_PAGE, context, partial="target")


# --- steps 2 to 4 ----------------------------------------------------------------------------


def _key_vault_connections(organization: Organization) -> list[AppConnection]:
    return list(AppConnection.objects.filter(organization=organization, kind=ConnectionKind.AZURE_KEY_VAULT))


def _detail_context(
    request: HttpRequest, principal: Principal, organization: Organization, estate_import: EstateImport, **extra: Any
) -> dict[str, Any]:
    resource = estate_import.resource
    is_key_vault = (resource.details or {}).get("type") == "AzureKeyVault"
    source = request.POST if request.method == "POST" else request.GET
    kv_connection = source.get("key_vault_connection") or ""
    vault_url = (source.get("vault_url") or "").strip()
    items = list(estate_import.items.all())
    context: dict[str, Any] = {
        "organization": organization,
        "nav": "estate",
        "estate_import": estate_import,
        "resource": resource,
        "is_key_vault": is_key_vault,
        "is_group": resource.kind == ResourceKind.VARIABLE_GROUP,
        "key_vault_connections": _key_vault_connections(organization) if is_key_vault else [],
        "key_vault_connection": kv_connection,
        "vault_url": vault_url,
        "items": items,
        "needs_value": [item for item in items if item.status == ItemStatus.NEEDS_VALUE],
        "applied": estate_import.status != ImportStatus.DRAFT,
        "notice": _notice(request.GET.get("notice", ""), estate_import),
        "csv_form": ValuesCsvForm(),
        "convert_form": ConvertToSyncForm(),
        "sync": estate_import.sync,
        "yaml": import_pipeline_yaml(estate_import),
    }
    context["can_convert"] = (
        context["is_group"]
        and not is_key_vault
        and estate_import.sync_id is None
        and estate_import.status in (ImportStatus.COMPLETE, ImportStatus.NEEDS_VALUES)
    )
    # The preview reads Azure DevOps (and the vault) afresh: before the first apply, or on request.
    if not context["applied"] or source.get("preview"):
        try:
            context["preview"] = import_preview(
                principal=principal,
                estate_import=estate_import,
                key_vault_connection=kv_connection or None,
                vault_url=vault_url or None,
            )
        except DomainError as exc:
            if exc.status == 403:
                raise
            context["preview_error"] = _message(exc)
    context.update(extra)
    return context


def _convert(request: HttpRequest, principal: Principal, estate_import: EstateImport) -> ConvertToSyncForm:
    form = ConvertToSyncForm(request.POST)
    if form.is_valid():
        import_convert_to_sync(
            principal=principal,
            estate_import=estate_import,
            sync_name=form.cleaned_data["sync_name"] or None,
            confirm=True,
        )
    return form


def _values(request: HttpRequest, principal: Principal, estate_import: EstateImport) -> ValuesCsvForm:
    """The typed values (``value_<item id>``) or else the CSV; a form error when there is neither."""
    form = ValuesCsvForm(request.POST, request.FILES)
    names = {item.pk: item.ado_name for item in estate_import.items.all() if item.status == ItemStatus.NEEDS_VALUE}
    typed = {names[pk]: request.POST[f"value_{pk}"] for pk in names if request.POST.get(f"value_{pk}")}
    if not form.is_valid():
        return form
    try:
        text = form.text()
    except forms.ValidationError as exc:  # the file was refused before any parsing
        form.add_error("csv_file", exc)
        return form
    if typed:
        import_values_enter(principal=principal, estate_import=estate_import, values=typed)
    elif text.strip():
        import_values_csv(principal=principal, estate_import=estate_import, csv_text=text)
    else:
        form.add_error(None, "Type at least one value, or paste or upload a CSV")
    del typed, text
    return form


@require_http_methods(["GET", "POST"])
@estate_view
def import_detail(request: HttpRequest, organization: Organization, import_id: Any) -> HttpResponse:
    """Steps 2 to 4 of one import. POST ``action``: ``apply`` | ``values`` | ``convert``."""
    principal = principal_of(request)
    estate_import = import_get(organization, str(import_id))
    url = reverse("estate:import_detail", args=[organization.slug, estate_import.public_id])
    if request.method == "POST":
        action = request.POST.get("action", "")
        extra: dict[str, Any] = {}
        status = 200
        try:
            if action == "apply":
                import_apply(
                    principal=principal,
                    estate_import=estate_import,
                    key_vault_connection=request.POST.get("key_vault_connection") or None,
                    vault_url=(request.POST.get("vault_url") or "").strip() or None,
                )
                return no_store(redirect_to(request, f"{url}?notice=applied"))
            if action == "values":
                form = _values(request, principal, estate_import)
                if not form.errors:
                    return no_store(redirect_to(request, f"{url}?notice=values"))
                extra["csv_form"], status = form, 400
            elif action == "convert":
                convert = _convert(request, principal, estate_import)
                if not convert.errors:
                    return redirect_to(request, f"{url}?notice=converted")
                extra["convert_form"], status = convert, 400
            else:
                extra["error"], status = "Unknown action", 400
        except DomainError as exc:
            if exc.status == 403:
                raise
            extra["error"], extra["error_action"], status = _message(exc), action, exc.status
        estate_import.refresh_from_db()
        context = _detail_context(request, principal, organization, estate_import, **extra)
        return no_store(page_or_partial(request, DETAIL_PAGE, context, status=status))
    context = _detail_context(request, principal, organization, estate_import)
    return no_store(page_or_partial(request, DETAIL_PAGE, context))

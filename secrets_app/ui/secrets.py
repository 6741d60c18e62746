"""The secret panel: details, masked value and its audited reveal, edit, delete, versions, rollback.

Only ``secret_reveal`` ever puts a value into HTML; its response is ``no-store`` and carries
``hx-history="false"`` so htmx never snapshots it into localStorage.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from secrets_app.errors import DomainError, PermissionDenied, SecretQuarantined, ValidationFailed
from secrets_app.models import SecretType
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.history import secret_history
from secrets_app.selectors.rotation_policies import (
    due_status,
    reveal_marks_due,
    reveal_rotation_get,
    rotation_due_at,
    rotation_owner_choices,
    secret_rotation_policy_get,
)
from secrets_app.selectors.secrets import secret_get
from secrets_app.selectors.tags import tag_list
from secrets_app.services import rollback as rollback_services
from secrets_app.services import secrets as secret_services
from secrets_app.services.rotation_policies import secret_reveal_record
from secrets_app.services.secrets import SecretInput
from secrets_app.ui.forms import RotationPolicyForm, SecretCreateForm, SecretEditForm
from secrets_app.ui.framework import (
    apply_domain_error,
    is_htmx,
    no_store,
    page_or_partial,
    project_view,
    render_fragments,
)
from secrets_app.ui.projects import (
    PROJECT_PAGE,
    environments_allowing,
    oob_refresh,
    refreshed_workspace,
    workspace_context,
)
from secrets_app.ui.value_size import value_size_warnings

PANEL = "components/secret_panel.html"
PANEL_FORM_IDS = "panel-new-%s"  # the panel's add form sits on the page beside the matrix's


def _address(data: Any) -> tuple[str, str, str]:
    """(environment, canonical path, key) from a query string or form."""
    environment = data.get("environment", "")
    key = data.get("key", "")
    if not environment:
        raise ValidationFailed("environment", "is required")
    if not key:
        raise ValidationFailed("key", "is required")
    return environment, canonical_path(data.get("path", "/")), key


def _panel_context(scope: ProjectScope, environment: str, path: str, key: str, **extra: Any) -> dict[str, Any]:
    """The panel of one secret: metadata, versions and what the caller may do. No value."""
    secret = secret_get(scope, environment=environment, path=path, key=key, include_value=False)
    access = scope.access
    where = {"environment": environment, "path": path, "tags": secret.tags}
    tags = [tag.slug for tag in tag_list(scope)]
    form = extra.pop("form", None) or SecretEditForm(
        tags=tags,
        initial={
            "new_key": secret.key,
            "owner_label": secret.owner_label,
            "purpose": secret.purpose,
            "expires_at": secret.expires_at.date() if secret.expires_at else None,
            "tags": secret.tags,
            "version": secret.version,
        },
    )
    policy = secret_rotation_policy_get(scope, secret.id)
    rotation_form = extra.pop("rotation_form", None) or _rotation_form(
        scope,
        initial={
            "interval_days": policy.rotation_interval_days if policy else None,
            "owner": policy.rotation_owner_id if policy else None,
        },
    )
    due_at = (
        rotation_due_at(
            last_change=getattr(policy, "last_change", None),
            interval_days=policy.rotation_interval_days,
            marked_at=policy.rotation_due_at,
        )
        if policy is not None
        else None
    )
    return {
        "project": scope.project,
        "secret": secret,
        "environment": environment,
        "path": path,
        "policy": policy,
        "rotation_form": rotation_form,
        "rotation_due_at": due_at,
        "rotation_status": due_status(due_at),
        "reveal_marks_due": reveal_marks_due(scope, environment),
        "reveal_rotation": None if secret.is_personal_override else reveal_rotation_get(scope, environment, path, key),
        "history": secret_history(scope, environment=environment, path=path, key=key),
        "can_reveal": access.can("secrets.read_value", **where) and secret.quarantined_at is None,
        "can_restore_quarantine": secret.quarantined_at is not None and access.can("governance.manage"),
        "can_edit": access.can("secrets.edit", **where) and not secret.is_personal_override,
        "can_delete": access.can("secrets.delete", **where) and not secret.is_personal_override,
        "can_rollback": access.can("secrets.rollback", **where) and not secret.is_personal_override,
        "form": form,
        **extra,
    }


def _rotation_form(scope: ProjectScope, data: Any = None, **kwargs: Any) -> RotationPolicyForm:
    return RotationPolicyForm(data, owners=rotation_owner_choices(scope), **kwargs)


def _panel_response(
    request: HttpRequest, scope: ProjectScope, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    if is_htmx(request):
        return page_or_partial(request, PANEL, context, partial="panel", status=status)
    page = {**workspace_context(scope, context["path"], panel_template=f"{PANEL}#panel"), **context}
    return page_or_partial(request, PROJECT_PAGE, page, status=status)


@require_http_methods(["GET", "POST", "DELETE"])
@project_view
def secret_item(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: the panel. POST: save the edit form. DELETE: soft-delete (undo with folder history)."""
    if request.method == "POST":
        return _secret_edit(request, scope)
    environment, path, key = _address(request.GET)
    if request.method == "DELETE":
        secret_services.secret_delete(scope=scope, environment=environment, path=path, key=key)
        context = {"project": scope.project, "environment": environment, "path": path, "deleted_key": key}
        return render_fragments(request, [(f"{PANEL}#deleted", context), *refreshed_workspace(request, scope, path)])
    return _panel_response(request, scope, _panel_context(scope, environment, path, key))


def _secret_edit(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    environment, path, key = _address(request.POST)
    tags = [tag.slug for tag in tag_list(scope)]
    form = SecretEditForm(request.POST, tags=tags)
    if form.is_valid():
        data = form.cleaned_data
        item = SecretInput(
            key=key,
            value=data["value"] if data["value"] != "" else None,
            comment=data["comment"] or None,
            tags=data["tags"],
            owner_label=data["owner_label"],
            purpose=data["purpose"],
            expires_at=form.expires_at_datetime(),
        )
        try:
            secret = secret_services.secret_update(
                scope=scope,
                environment=environment,
                path=path,
                key=key,
                item=item,
                new_key=data["new_key"] if data["new_key"] != key else None,
                expected_version=data["version"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            warnings = (
                value_size_warnings(scope, environment=environment, path=path, key=secret.key, value=data["value"])
                if data["value"] != ""
                else []
            )
            context = _panel_context(
                scope,
                environment,
                path,
                secret.key,
                notice=f"Saved. {secret.key} is at v{secret.version}.",
                notice_warnings=warnings,
            )
            return render_fragments(request, [(f"{PANEL}#panel", context), *refreshed_workspace(request, scope, path)])
    # The form keeps what was typed (the person's own input), never the stored value.
    context = _panel_context(scope, environment, path, key, form=form, open_edit=True)
    return _panel_response(request, scope, context, status=422)


@require_GET
@project_view
def secret_reveal(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The one response that contains a value: an audited ``secret.value_read``. A quarantined
    secret answers 423 with the masked box naming the quarantine (audited as a refused read)."""
    environment, path, key = _address(request.GET)
    request.secret_response = True  # type: ignore[attr-defined]  # SecurityHeadersMiddleware: no-store
    try:
        # Expanded as the CLI receives it; a value holding references keeps its raw form beside it.
        secret = secret_get(scope, environment=environment, path=path, key=key, include_value=True, expand=True)
    except (PermissionDenied, SecretQuarantined) as exc:
        context = {
            "project": scope.project,
            "environment": environment,
            "path": path,
            "key": key,
            "error": exc.message,
            "reveal_marks_due": reveal_marks_due(scope, environment),
            "reveal_rotation": reveal_rotation_get(scope, environment, path, key),
        }
        return no_store(page_or_partial(request, PANEL, context, partial="value_masked", status=exc.status))
    marked = secret_reveal_record(scope=scope, secret_id=secret.id, environment=environment, path=path, key=key)
    context = {
        "project": scope.project,
        "environment": environment,
        "path": path,
        "secret": secret,
        "marked_due": marked,
        "rotation_queued": None if secret.is_personal_override else reveal_rotation_get(scope, environment, path, key),
    }
    return no_store(page_or_partial(request, PANEL, context, partial="value_revealed"))


@require_GET
@project_view
def secret_version_diff(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The old and new value (and comment) of one change, side by side: two audited
    ``secret.value_read`` events, one per version, in a ``no-store`` response htmx never snapshots.
    ``hide=1`` answers the "Reveal diff" button again without reading anything. *slot* names the
    history entry's place on the page."""
    environment, path, key = _address(request.GET)
    numbers = []
    for name in ("from", "to", "slot"):
        try:
            numbers.append(int(request.GET.get(name, "")))
        except ValueError:
            raise ValidationFailed(name, "must be a number") from None
    versions, slot = numbers[:2], numbers[2]
    context: dict[str, Any] = {"project": scope.project, "environment": environment, "path": path, "slot": slot}
    if request.GET.get("hide"):  # back to the button: reads nothing
        closed = {**context, "diff_key": key, "diff_from": versions[0], "diff_to": versions[1], "diff_slot": slot}
        return page_or_partial(request, PANEL, closed, partial="diff_closed")
    request.secret_response = True  # type: ignore[attr-defined]  # SecurityHeadersMiddleware: no-store
    old, new = (
        secret_get(
            scope,
            environment=environment,
            path=path,
            key=key,
            include_value=True,
            version=number,
            secret_type=SecretType.SHARED,
        )
        for number in versions
    )
    return no_store(page_or_partial(request, PANEL, {**context, "old": old, "new": new}, partial="version_diff"))


@require_GET
@project_view
def secret_masked(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The masked value box (the "Hide" button): reads nothing."""
    environment, path, key = _address(request.GET)
    context = {
        "project": scope.project,
        "environment": environment,
        "path": path,
        "key": key,
        "reveal_marks_due": reveal_marks_due(scope, environment),
        "reveal_rotation": reveal_rotation_get(scope, environment, path, key),
    }
    return no_store(page_or_partial(request, PANEL, context, partial="value_masked"))


@require_GET
@project_view
def secret_new(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The panel for a missing cell: add this key to that environment."""
    path = canonical_path(request.GET.get("path", "/"))
    environment = request.GET.get("environment", "")
    create_envs = environments_allowing(scope, path, "secrets.create")
    form = SecretCreateForm(
        environments=create_envs,
        auto_id=PANEL_FORM_IDS,
        initial={"key": request.GET.get("key", ""), "environment": environment, "path": path},
    )
    context = {
        "project": scope.project,
        "path": path,
        "form": form,
        "environment": environment,
        "create_envs": create_envs,
    }
    if not is_htmx(request):
        page = {**workspace_context(scope, path, panel_template=f"{PANEL}#new_secret"), **context}
        return page_or_partial(request, PROJECT_PAGE, page)
    return page_or_partial(request, PANEL, context, partial="new_secret")


@require_POST
@project_view
def secret_create(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """From the "Add secret" form above the matrix (origin=matrix) or the panel of a missing cell
    (origin=panel). Success swaps the matrix (or opens the new secret's panel) and updates the
    counters out of band; errors re-render the form that was sent."""
    path = canonical_path(request.POST.get("path", "/"))
    from_panel = request.POST.get("origin") == "panel"
    create_envs = environments_allowing(scope, path, "secrets.create")
    form = SecretCreateForm(
        request.POST, environments=create_envs, **({"auto_id": PANEL_FORM_IDS} if from_panel else {})
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            secret = secret_services.secret_create(
                scope=scope,
                environment=data["environment"],
                path=path,
                item=SecretInput(key=data["key"], value=data["value"], comment=data["comment"] or None),
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            notice = f"Added {secret.key} to {data['environment']}."
            warnings = value_size_warnings(
                scope, environment=data["environment"], path=path, key=secret.key, value=data["value"]
            )
            fresh = workspace_context(scope, path, notice=notice, notice_warnings=warnings, add_open=True)
            if from_panel:
                context = _panel_context(
                    scope, data["environment"], path, secret.key, notice=notice, notice_warnings=warnings
                )
                return render_fragments(request, [(f"{PANEL}#panel", context), *oob_refresh(fresh)])
            # The matrix is the target; the emptied form and the counters come out of band.
            matrix, env_list = oob_refresh(fresh)
            return render_fragments(
                request,
                [(f"{PROJECT_PAGE}#matrix", fresh), (f"{PROJECT_PAGE}#add_secret", {**fresh, "oob": True}), env_list],
            )
    if from_panel:
        context = {"project": scope.project, "path": path, "form": form, "create_envs": create_envs}
        return page_or_partial(request, PANEL, context, partial="new_secret", status=422)
    context = workspace_context(scope, path, add_form=form, add_open=True)
    response = page_or_partial(request, PROJECT_PAGE, context, partial="add_secret", status=422)
    return reswap(retarget(response, "#add-secret"), "outerHTML") if is_htmx(request) else response


@require_POST
@project_view
def secret_rollback(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    environment, path, key = _address(request.POST)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        raise ValidationFailed("version", "must be a version number") from None
    secret = rollback_services.secret_rollback(
        scope=scope, environment=environment, path=path, key=key, version=version
    )
    notice = f"Rolled {key} back to the value of v{version} (now v{secret.version})."
    context = _panel_context(scope, environment, path, key, notice=notice)
    return render_fragments(request, [(f"{PANEL}#panel", context), *refreshed_workspace(request, scope, path)])

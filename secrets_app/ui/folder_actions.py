"""Rename and delete the folder a person is looking at, in the environments they choose. The panel
lists, before a delete, what it removes (subfolders and secret names, never a value). The writes
are ``folder_rename`` / ``folder_delete`` (services/folders.py, the REST API's), which decide."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from secrets_app.errors import DomainError, PermissionDenied, ValidationFailed
from secrets_app.paths import canonical_path, join_path, path_segments
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.contents import folder_contents
from secrets_app.services import folders as folder_services
from secrets_app.ui.framework import is_htmx, page_or_partial, project_view, redirect_to
from secrets_app.ui.projects import PROJECT_PAGE, environments_allowing, workspace_context, workspace_environments
from secrets_app.ui.settings_forms import FolderDeleteForm, FolderRenameForm

PANEL = "components/folder_actions.html"


def _folder_path(raw: str) -> str:
    path = canonical_path(raw or "/")
    if path == "/":
        raise ValidationFailed("path", "the root folder cannot be renamed or deleted")
    return path


def _panel_context(scope: ProjectScope, path: str, **extra: Any) -> dict[str, Any]:
    rename_envs = environments_allowing(scope, path, "folders.edit")
    delete_envs = environments_allowing(scope, path, "folders.delete")
    name = path_segments(path)[-1]
    context: dict[str, Any] = {
        "project": scope.project,
        "path": path,
        "folder_name": name,
        "parent_path": "/" + "/".join(path_segments(path)[:-1]),
        "rename_form": FolderRenameForm(environments=rename_envs, initial={"path": path, "environments": rename_envs}),
        "delete_form": FolderDeleteForm(environments=delete_envs, initial={"path": path, "environments": delete_envs}),
        "contents": [folder_contents(scope, env, path) for env in delete_envs],
    }
    context.update(extra)
    return context


def _panel(request: HttpRequest, scope: ProjectScope, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    if is_htmx(request):
        return page_or_partial(request, PANEL, context, partial="folder_actions", status=status)
    page = {**workspace_context(scope, context["path"], panel_template=f"{PANEL}#folder_actions"), **context}
    return page_or_partial(request, PROJECT_PAGE, page, status=status)


def _workspace_url(scope: ProjectScope, path: str) -> str:
    return reverse("ui:project_detail", args=[scope.project.slug]) + "?" + urlencode({"path": path})


@require_GET
@project_view
def folder_actions(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The panel: a rename form and, per environment, what a delete would remove."""
    path = _folder_path(request.GET.get("path", "/"))
    return _panel(request, scope, _panel_context(scope, path))


@require_POST
@project_view
def folder_rename(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = _folder_path(request.POST.get("path", "/"))
    # Offered: every environment the folder is listed in; the service decides (a refusal is a 403).
    form = FolderRenameForm(request.POST, environments=workspace_environments(scope, path))
    if form.is_valid():
        name = form.cleaned_data["name"]
        failures = []
        for env in form.cleaned_data["environments"]:
            try:
                folder_services.folder_rename(scope=scope, environment=env, path=path, name=name)
            except PermissionDenied:
                raise
            except DomainError as exc:
                failures.append(f"{env}: {exc.fields.get('name', [exc.message])[0]}")
        parent = "/" + "/".join(path_segments(path)[:-1])
        if not failures:
            return redirect_to(request, _workspace_url(scope, join_path(parent, name)))
        form.add_error("name", "; ".join(failures))
    return _panel(request, scope, _panel_context(scope, path, rename_form=form), status=422)


@require_POST
@project_view
def folder_delete(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = _folder_path(request.POST.get("path", "/"))
    form = FolderDeleteForm(request.POST, environments=workspace_environments(scope, path))
    if form.is_valid():
        failures = []
        for env in form.cleaned_data["environments"]:
            try:
                folder_services.folder_delete(scope=scope, environment=env, path=path)
            except PermissionDenied:
                raise
            except DomainError as exc:
                failures.append(f"{env}: {exc.message}")
        if not failures:
            parent = "/" + "/".join(path_segments(path)[:-1])
            return redirect_to(request, _workspace_url(scope, parent))
        form.add_error("environments", "; ".join(failures))
    return _panel(request, scope, _panel_context(scope, path, delete_form=form), status=422)

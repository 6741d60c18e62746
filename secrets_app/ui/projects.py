"""Projects list and the project workspace: environment matrix, folders, imports, tags (the folder
history is ui/folder_history.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from secrets_app.errors import DomainError, ValidationFailed
from secrets_app.paths import canonical_path, path_segments
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.imports import import_list
from secrets_app.selectors.matrix import ColumnState, matrix_columns, matrix_environments, secret_matrix
from secrets_app.selectors.organizations import organization_membership_list
from secrets_app.selectors.projects import project_view_list
from secrets_app.selectors.tags import tag_list
from secrets_app.services import folders as folder_services
from secrets_app.services import projects as project_services
from secrets_app.ui.forms import FolderCreateForm, ImportCreateForm, ProjectCreateForm, SecretCreateForm, TagCreateForm
from secrets_app.ui.framework import (
    apply_domain_error,
    is_htmx,
    login_required,
    page_or_partial,
    principal_of,
    project_view,
)

PROJECT_PAGE = "pages/project.html"


# --- projects list ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HttpRequest) -> HttpResponse:
    principal = principal_of(request)
    form = ProjectCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            memberships = organization_membership_list(request.user)
            try:
                if not memberships:
                    raise ValidationFailed("name", "you belong to no organization: ask an administrator to add you")
                project = project_services.project_create(
                    principal=principal,
                    organization=memberships[0].organization,
                    slug=form.cleaned_data["slug"],
                    name=form.cleaned_data["name"],
                    environments=form.cleaned_data["environments"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                url = reverse("ui:project_detail", args=[project.slug])
                if is_htmx(request):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = url
                    return response
                return redirect(url)
        status = 422
    context = {"projects": project_view_list(principal), "form": form, "nav": "projects"}
    return page_or_partial(request, "pages/project_list.html", context, partial="create_form", status=status)


# --- the workspace ---------------------------------------------------------------------------


def _breadcrumbs(path: str) -> list[tuple[str, str]]:
    crumbs = [("/", "/")]
    current = ""
    for segment in path_segments(path):
        current += "/" + segment
        crumbs.append((segment, current))
    return crumbs


def environments_allowing(scope: ProjectScope, path: str, action: str, *, listed_only: bool = True) -> list[str]:
    """Matrix environments where the caller may do *action* at *path* (without reading secrets)."""
    return [
        column.slug
        for column in matrix_columns(scope, path)
        if (column.state == ColumnState.OK if listed_only else column.state != ColumnState.NO_FOLDER)
        and scope.access.can(action, environment=column.slug, path=path)
    ]


def workspace_context(scope: ProjectScope, path: str, **extra: Any) -> dict[str, Any]:
    """Everything the project page shows at *path*. Values are never part of it."""
    path = canonical_path(path)
    access = scope.access
    matrix = secret_matrix(scope, path)
    listed = [column.slug for column in matrix.columns if column.state == ColumnState.OK]
    present = [column.slug for column in matrix.columns if column.state != ColumnState.NO_FOLDER]
    create_envs = [env for env in listed if access.can("secrets.create", environment=env, path=path)]
    folder_envs = [env for env in present if access.can("folders.create", environment=env, path=path)]
    import_envs = [env for env in listed if access.can("imports.create", environment=env, path=path)]
    imports = [
        item
        for env in listed
        if access.can("imports.read", environment=env, path=path)
        for item in import_list(scope, environment=env, path=path)
    ]
    context = {
        "scope": scope,
        "project": scope.project,
        "role": access.role,
        "nav": "secrets",
        "path": path,
        "parent_path": "/" + "/".join(path_segments(path)[:-1]),
        "breadcrumbs": _breadcrumbs(path),
        "matrix": matrix,
        "environments": [column.slug for column in matrix.columns],
        "listed_envs": listed,
        "create_envs": create_envs,
        "folder_envs": folder_envs,
        "import_envs": import_envs,
        "imports": imports,
        "import_delete_envs": [env for env in listed if access.can("imports.delete", environment=env, path=path)],
        "tags": tag_list(scope),
        "can_manage_tags": access.can("tags.manage"),
        "add_form": SecretCreateForm(environments=create_envs, initial={"path": path}),
        "folder_form": FolderCreateForm(environments=folder_envs, initial={"path": path, "environments": folder_envs}),
        "import_form": ImportCreateForm(
            environments=import_envs, sources=[column.slug for column in matrix.columns], initial={"path": path}
        ),
        "tag_form": TagCreateForm(),
    }
    context.update(extra)
    return context


def oob_refresh(context: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Out-of-band fragments that bring the matrix and the environment counters up to date."""
    oob = {**context, "oob": True}
    return [(f"{PROJECT_PAGE}#matrix", oob), (f"{PROJECT_PAGE}#env_list", oob)]


def refreshed_workspace(request: HttpRequest, scope: ProjectScope, path: str) -> list[tuple[str, dict[str, Any]]]:
    return oob_refresh(workspace_context(scope, path))


@require_GET
@project_view
def project_detail(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    context = workspace_context(scope, request.GET.get("path", "/"))
    return page_or_partial(request, PROJECT_PAGE, context, partial="workspace")


def _form_error(request: HttpRequest, template: str, context: dict[str, Any], target: str) -> HttpResponse:
    """Re-render only the form (with its errors) in place of itself."""
    response = page_or_partial(request, template, context, partial=target.lstrip("#").replace("-", "_"), status=422)
    if is_htmx(request):
        response = reswap(retarget(response, target), "outerHTML")
    return response


@require_POST
@project_view
def folder_create(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = canonical_path(request.POST.get("path", "/"))
    form = FolderCreateForm(
        request.POST, environments=environments_allowing(scope, path, "folders.create", listed_only=False)
    )
    if form.is_valid():
        chosen = form.cleaned_data["environments"]
        failed_in: dict[str, list[str]] = {}  # message -> environments it happened in
        for env in chosen:
            try:
                folder_services.folder_create(scope=scope, environment=env, path=path, name=form.cleaned_data["name"])
            except DomainError as exc:
                failed_in.setdefault(exc.fields.get("name", [exc.message])[0], []).append(env)
        if not failed_in:
            return page_or_partial(request, PROJECT_PAGE, workspace_context(scope, path), partial="workspace")
        # A bad name fails alike everywhere: say it once; name environments only where they differ.
        for message, envs in failed_in.items():
            form.add_error("name", message if len(envs) == len(chosen) else f"{', '.join(envs)}: {message}")
    return _form_error(request, PROJECT_PAGE, workspace_context(scope, path, folder_form=form), "#folder-form")


@require_POST
@project_view
def import_create(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = canonical_path(request.POST.get("path", "/"))
    form = ImportCreateForm(
        request.POST,
        environments=environments_allowing(scope, path, "imports.create"),
        sources=[environment.slug for environment in matrix_environments(scope)],
    )
    if form.is_valid():
        try:
            folder_services.import_create(
                scope=scope,
                environment=form.cleaned_data["environment"],
                path=path,
                source_environment=form.cleaned_data["source_environment"],
                source_path=form.cleaned_data["source_path"],
            )
        except DomainError as exc:
            # The folder of this page exists; a missing folder is the source one.
            apply_domain_error(form, exc, aliases={"path": "source_path", "environment": "source_environment"})
        else:
            return page_or_partial(request, PROJECT_PAGE, workspace_context(scope, path), partial="workspace")
    return _form_error(request, PROJECT_PAGE, workspace_context(scope, path, import_form=form), "#import-form")


@require_http_methods(["POST", "DELETE"])
@project_view
def import_delete(request: HttpRequest, scope: ProjectScope, import_id: int) -> HttpResponse:
    path = canonical_path(request.GET.get("path") or request.POST.get("path") or "/")
    folder_services.import_delete(scope=scope, import_id=import_id)
    return page_or_partial(request, PROJECT_PAGE, workspace_context(scope, path), partial="workspace")


@require_POST
@project_view
def tag_create(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    path = canonical_path(request.POST.get("path", "/"))
    form = TagCreateForm(request.POST)
    if form.is_valid():
        try:
            folder_services.tag_create(scope=scope, slug=form.cleaned_data["slug"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            return page_or_partial(request, PROJECT_PAGE, workspace_context(scope, path), partial="workspace")
    return _form_error(request, PROJECT_PAGE, workspace_context(scope, path, tag_form=form), "#tag-form")


@require_http_methods(["POST", "DELETE"])
@project_view
def tag_delete(request: HttpRequest, scope: ProjectScope, tag: str) -> HttpResponse:
    path = canonical_path(request.GET.get("path") or request.POST.get("path") or "/")
    folder_services.tag_delete(scope=scope, slug=tag)
    return page_or_partial(request, PROJECT_PAGE, workspace_context(scope, path), partial="workspace")


# --- environments of the workspace ----------------------------------------------------------


def workspace_environments(scope: ProjectScope, path: str) -> list[str]:
    """Environments whose folder at *path* exists and may be listed by the caller."""
    return [column.slug for column in matrix_columns(scope, path) if column.state == ColumnState.OK]

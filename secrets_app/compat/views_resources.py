"""Folders (v1 and v2), secret imports (v2), project lookup and tags, onto the folder services and
the folder, import, project and tag selectors."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from secrets_app.compat.http import CompatError, CompatView, Invalid, Params, issue
from secrets_app.compat.responses import folder_shape, import_shape, parse_compat_id, project_shape, tag_shape
from secrets_app.compat.views_secrets import scope_from
from secrets_app.errors import NotFound
from secrets_app.models import Folder, SecretImport
from secrets_app.paths import join_path
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope
from secrets_app.selectors.folders import folder_children_list
from secrets_app.selectors.imports import import_list
from secrets_app.selectors.projects import environment_list
from secrets_app.selectors.tags import tag_list
from secrets_app.selectors.tree import folder_get
from secrets_app.services.folders import (
    folder_create,
    folder_delete,
    folder_rename,
    import_create,
    import_delete,
    import_reorder,
    tag_create,
)


def _folder_path(params: Params) -> str:
    """The server applies ``path`` over ``directory``; the CLI sends only ``directory``."""
    return params.string("path") or params.string("directory") or "/"


def _folder_by_ref(scope: ProjectScope, environment: str, path: str, ref: str) -> Folder:
    """A folder named by compat id, or by name under *path*."""
    pk = parse_compat_id("folder", ref)
    if pk is not None:
        folder = Folder.objects.filter(project=scope.project, pk=pk).select_related("environment").first()
        if folder is not None:
            return folder
    _env, folder = folder_get(scope, environment, join_path(path, ref) if ref else path)
    return folder


def _children(scope: ProjectScope, environment: str, path: str, recursive: bool) -> list[Folder]:
    found: list[Folder] = []
    for child in folder_children_list(scope, environment=environment, path=path):
        found.append(child)
        if recursive:
            found.extend(_children(scope, environment, child.path, True))
    return found


class FolderListView(CompatView):
    """GET/POST /api/v1/folders and /api/v2/folders."""

    lenient = True  # folder routes parse booleans leniently (the Python SDK sends True/False)

    def get(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment = params.string("environment", required=True) or ""
        recursive = params.boolean("recursive", default=False, strict=not self.lenient)
        params.check()
        scope = scope_from(principal, params)
        folders = _children(scope, environment, _folder_path(params), recursive)
        return {"folders": [folder_shape(folder) for folder in folders]}

    def post(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment = params.string("environment", required=True) or ""
        name = params.string("name", required=True) or ""
        params.check()
        scope = scope_from(principal, params)
        folder = folder_create(scope=scope, environment=environment, path=_folder_path(params), name=name)
        return {"folder": folder_shape(folder)}


class FolderItemView(CompatView):
    """GET (v2) / PATCH / DELETE /api/v{1,2}/folders/{idOrName}."""

    def get(self, request: HttpRequest, principal: Principal, params: Params, ref: str) -> dict[str, Any]:
        pk = parse_compat_id("folder", ref)
        folder = Folder.objects.filter(pk=pk).select_related("environment", "project").first() if pk else None
        if folder is None:
            raise CompatError(404, f"Folder with ID '{ref}' not found")
        try:
            scope = project_scope(principal, str(folder.project.public_id))
            # The caller must see the folder itself (the selector refuses, audited, otherwise).
            folder_children_list(scope, environment=folder.environment.slug, path=folder.path)
        except NotFound:
            raise CompatError(404, f"Folder with ID '{ref}' not found") from None
        return {"folder": folder_shape(folder, with_environment=True)}

    def patch(self, request: HttpRequest, principal: Principal, params: Params, ref: str) -> dict[str, Any]:
        environment = params.string("environment", required=True) or ""
        name = params.string("name", required=True) or ""
        params.check()
        scope = scope_from(principal, params)
        folder = _folder_by_ref(scope, environment, _folder_path(params), ref)
        renamed = folder_rename(scope=scope, environment=folder.environment.slug, path=folder.path, name=name)
        return {"folder": folder_shape(renamed)}

    def delete(self, request: HttpRequest, principal: Principal, params: Params, ref: str) -> dict[str, Any]:
        environment = params.string("environment", required=True) or ""
        params.check()
        scope = scope_from(principal, params)
        folder = _folder_by_ref(scope, environment, _folder_path(params), ref)
        shape = folder_shape(folder)
        folder_delete(scope=scope, environment=folder.environment.slug, path=folder.path)
        return {"folder": shape}


class ImportListView(CompatView):
    """GET/POST /api/v2/secret-imports."""

    def get(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment = params.string("environment", required=True) or ""
        params.check()
        scope = scope_from(principal, params)
        imports = import_list(scope, environment=environment, path=params.string("path") or "/")
        return {"message": "Successfully fetched secret imports", "secretImports": [import_shape(i) for i in imports]}

    def post(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment = params.string("environment", required=True) or ""
        source = params.data.get("import")
        if not isinstance(source, dict) or not isinstance(source.get("environment"), str):
            params.issues.append({"code": "invalid_type", "path": ["import", "environment"], "message": "Required"})
            source = {}
        if params.data.get("isReplication") is True:
            params.issues.append(issue("isReplication", "Replication imports are not supported"))
        params.check()
        scope = scope_from(principal, params)
        created = import_create(
            scope=scope,
            environment=environment,
            path=params.string("path") or "/",
            source_environment=source["environment"],
            source_path=source.get("path") or "/",
        )
        created = SecretImport.objects.select_related("source_environment").get(pk=created.pk)
        return {"message": "Successfully created secret import", "secretImport": import_shape(created)}


class ImportItemView(CompatView):
    """PATCH (position only) / DELETE /api/v2/secret-imports/{id}."""

    def _find(self, scope: ProjectScope, ref: str) -> SecretImport:
        pk = parse_compat_id("import", ref)
        found = (
            SecretImport.objects.filter(project=scope.project, pk=pk)
            .select_related("folder__environment", "source_environment")
            .first()
            if pk
            else None
        )
        if found is None:
            raise CompatError(404, f"Secret import with ID '{ref}' not found")
        return found

    def patch(self, request: HttpRequest, principal: Principal, params: Params, ref: str) -> dict[str, Any]:
        change = params.data.get("import")
        if not isinstance(change, dict):
            raise Invalid([issue("import", "Required", "invalid_type")])
        scope = scope_from(principal, params)
        item = self._find(scope, ref)
        if change.get("environment") not in (None, item.source_environment.slug) or change.get("path") not in (
            None,
            item.source_path,
        ):
            raise CompatError(400, "Changing an import's source is not supported; delete it and create another")
        position = change.get("position")
        if isinstance(position, int) and not isinstance(position, bool):
            env, path = item.folder.environment.slug, item.folder.path
            order = [other.pk for other in import_list(scope, environment=env, path=path) if other.pk != item.pk]
            order.insert(max(0, min(position - 1, len(order))), item.pk)
            import_reorder(scope=scope, environment=env, path=path, import_ids=order)
            item.refresh_from_db()
        return {"message": "Successfully updated secret import", "secretImport": import_shape(item)}

    def delete(self, request: HttpRequest, principal: Principal, params: Params, ref: str) -> dict[str, Any]:
        scope = scope_from(principal, params)
        item = self._find(scope, ref)
        shape = import_shape(item)
        import_delete(scope=scope, import_id=item.pk)
        return {"message": "Successfully deleted secret import", "secretImport": shape}


class ProjectView(CompatView):
    """GET /api/v2/workspace/{slug} and /api/v1/projects/slug/{slug} (unwrapped), and
    GET /api/v1/workspace/{id} (``{workspace}``)."""

    wrap = False

    def get(self, request: HttpRequest, principal: Principal, params: Params, ref: str) -> dict[str, Any]:
        scope = project_scope(principal, ref)
        shape = project_shape(scope.project, environment_list(scope))
        return {"workspace": shape} if self.wrap else shape


class TagListView(CompatView):
    """GET/POST /api/v1/projects/{projectId}/tags."""

    def get(self, request: HttpRequest, principal: Principal, params: Params, project: str) -> dict[str, Any]:
        scope = project_scope(principal, project)
        return {"workspaceTags": [tag_shape(tag) for tag in tag_list(scope)]}

    def post(self, request: HttpRequest, principal: Principal, params: Params, project: str) -> dict[str, Any]:
        slug = params.string("slug", required=True) or ""
        params.check()
        scope = project_scope(principal, project)
        tag = tag_create(scope=scope, slug=slug, name=params.string("name") or slug, color=params.string("color") or "")
        return {"workspaceTag": tag_shape(tag), "tag": tag_shape(tag)}


class TagBySlugView(CompatView):
    """GET /api/v1/projects/{projectId}/tags/slug/{slug}."""

    def get(
        self, request: HttpRequest, principal: Principal, params: Params, project: str, slug: str
    ) -> dict[str, Any]:
        scope = project_scope(principal, project)
        tag = next((tag for tag in tag_list(scope) if tag.slug == slug), None)
        if tag is None:
            raise CompatError(404, f"Tag with slug '{slug}' not found")
        return {"workspaceTag": tag_shape(tag), "tag": tag_shape(tag)}

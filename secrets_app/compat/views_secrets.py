"""Secrets: v3 raw and v4 (list, get, create, update, delete, batch) onto the secret services and
selectors. Values are decided there (``secrets.read_value``); here a caller who may only read
names gets Infisical's hidden-value marker instead of a refusal, as Infisical answers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from secrets_app.compat.http import CompatError, CompatView, Invalid, Params, etag_response, issue
from secrets_app.compat.responses import TagIndex, compat_id, secret_shape, view_shape
from secrets_app.errors import Conflict, NotFound
from secrets_app.models import Folder, Secret
from secrets_app.paths import canonical_path
from secrets_app.policy.enforcement import all_or_nothing
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.selectors.tree import folder_get
from secrets_app.services.secrets import (
    SecretInput,
    secret_bulk_upsert,
    secret_create,
    secret_delete,
    secret_update,
)
from secrets_app.write_gate import ChangeOp, HeldForApproval, ProposedChange, WriteIntent, write_gate_check

PROJECT_PARAMS = ("workspaceId", "projectId", "workspaceSlug", "projectSlug")


def scope_from(principal: Principal, params: Params, *, missing_message: str | None = None) -> ProjectScope:
    ref = params.string(*PROJECT_PARAMS)
    if ref is None:
        if missing_message:
            raise CompatError(400, missing_message)
        raise Invalid([issue("workspaceId", "Required", "invalid_type")])
    return project_scope(principal, ref)


def may_read_values(scope: ProjectScope, environment: str, path: str) -> bool:
    """Whether to ask the selectors for values (they check each secret with its tags)."""
    try:
        canonical = canonical_path(path)
    except Exception:
        return True  # let the selector refuse the path in its own words
    return scope.access.can_for_some_tags("secrets.read_value", environment=environment, path=canonical)


def _secret_type(params: Params) -> str:
    value = params.string("type", default="shared") or "shared"
    if value not in ("shared", "personal"):
        params.issues.append(issue("type", "Invalid enum value. Expected 'shared' | 'personal'", "invalid_enum_value"))
    return value


def _location(params: Params) -> tuple[str, str]:
    environment = params.string("environment", required=True) or ""
    path = params.string("secretPath", "path", default="/") or "/"
    return environment, path


def model_shape(
    scope: ProjectScope, secret: Secret, tags: TagIndex, *, value: str | None, comment: str | None
) -> dict[str, Any]:
    """*secret* as a write service returned it: its fields, folder (with environment) and tags are
    current, so nothing is read back."""
    return secret_shape(
        project=scope.project,
        secret_id=secret.pk,
        key=secret.key,
        value=value,
        comment=comment,
        version=secret.version,
        secret_type=secret.type,
        environment=secret.folder.environment.slug,
        path=secret.folder.path,
        tags=list(secret.tags.all()),
        created_at=secret.created_at,
        updated_at=secret.updated_at,
    )


def _current_value(
    scope: ProjectScope, environment: str, path: str, key: str, secret_type: str
) -> tuple[str | None, str | None]:
    if not may_read_values(scope, environment, path):
        return None, None
    view = secret_get(scope, environment=environment, path=path, key=key, include_value=False, secret_type=secret_type)
    if view.quarantined_at is not None:
        return None, None  # the write went through; a quarantined value is not handed back
    view = secret_get(scope, environment=environment, path=path, key=key, include_value=True, secret_type=secret_type)
    return view.value, view.comment


class SecretListView(CompatView):
    """GET /api/v3/secrets/raw and GET /api/v4/secrets. Quarantined keys are left out; Infisical's
    shape is kept (SDKs drop unknown fields) with an extra ``warnings`` list naming them and one
    ``X-Strongroom-Warning`` header (the warnings joined by ``; ``)."""

    def get(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any] | HttpResponse:
        view_values = params.boolean("viewSecretValue", default=True)
        expand = params.boolean("expandSecretReferences", default=False)
        recursive = params.boolean("recursive", default=False)
        include_imports = params.boolean("include_imports", "includeImports", default=False)
        params.boolean("includePersonalOverrides", default=True)
        environment = params.string("environment")
        path = params.string("secretPath", default="/") or "/"
        tag_slugs = [slug.strip() for slug in (params.string("tagSlugs") or "").split(",") if slug.strip()]
        params.check()
        if environment is None or params.string(*PROJECT_PARAMS) is None:
            raise CompatError(400, "Missing project id or environment")
        scope = scope_from(principal, params)
        result = secret_list(
            scope,
            environment=environment,
            path=path,
            include_values=view_values and may_read_values(scope, environment, path),
            expand=expand,
            include_imports=include_imports,
            recursive=recursive,
            tag_filter=tag_slugs or None,
        )
        tags = TagIndex.of(scope)
        local = [view_shape(scope.project, view, tags) for view in result.secrets if view.imported_from is None]
        imports: dict[str, dict[str, Any]] = {}
        for view in result.secrets:
            if view.imported_from is None:
                continue
            entry = imports.get(view.imported_from)
            if entry is None:
                folder = (
                    Folder.objects.filter(project=scope.project, environment__slug=view.environment, path=view.path)
                    .only("id")
                    .first()
                )
                entry = imports[view.imported_from] = {
                    "secretPath": view.path,
                    "environment": view.environment,
                    "folderId": compat_id("folder", folder.pk) if folder else None,
                    "secrets": [],
                }
            shape = view_shape(scope.project, view, tags)
            shape.pop("createdAt")
            shape.pop("updatedAt")
            entry["secrets"].append(shape)
        body: dict[str, Any] = {"secrets": local, "imports": list(imports.values())}
        if not result.warnings:
            return body
        body["warnings"] = result.warnings
        response = etag_response(request, body)
        # Names and dates only, never a value; ASCII so no key can make the header unsendable.
        response["X-Strongroom-Warning"] = "; ".join(result.warnings)[:4000].encode("ascii", "replace").decode()
        return response


class SecretItemView(CompatView):
    """GET/POST/PATCH/DELETE /api/v3/secrets/raw/{name} and /api/v4/secrets/{name}."""

    def get(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        view_values = params.boolean("viewSecretValue", default=True)
        expand = params.boolean("expandSecretReferences", default=False)
        include_imports = params.boolean("include_imports", "includeImports", default=False)
        version = params.integer("version")
        secret_type = _secret_type(params)
        environment, path = _location(params)
        params.check()
        scope = scope_from(principal, params, missing_message="Missing project id or environment")
        try:
            view = secret_get(
                scope,
                environment=environment,
                path=path,
                key=name,
                include_value=view_values and may_read_values(scope, environment, path),
                expand=expand,
                include_imports=include_imports,
                version=version,
                secret_type=secret_type,
            )
        except NotFound as exc:
            if "path" in exc.fields or "environment" in exc.fields:
                raise
            raise CompatError(404, f"Secret with name '{name}' not found", error="NotFound") from None
        return {"secret": view_shape(scope.project, view, TagIndex.of(scope))}

    def post(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        environment, path = _location(params)
        value = params.data.get("secretValue")
        if not isinstance(value, str):
            params.issues.append(issue("secretValue", "Required", "invalid_type"))
        comment = params.string("secretComment")
        tag_ids = params.string_list("tagIds")
        secret_type = _secret_type(params)
        params.check()
        scope = scope_from(principal, params)
        tags = TagIndex.of(scope)
        try:
            secret = secret_create(
                scope=scope,
                environment=environment,
                path=path,
                item=SecretInput(
                    key=name, value=value, comment=comment, tags=tags.slugs_for_ids(tag_ids) if tag_ids else None
                ),
                secret_type=secret_type,
            )
        except Conflict:
            raise CompatError(400, "Secret already exists", error="BadRequest") from None
        return {"secret": model_shape(scope, secret, tags, value=value, comment=comment)}

    def patch(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        environment, path = _location(params)
        raw_value = params.data.get("secretValue")
        if raw_value is not None and not isinstance(raw_value, str):
            params.issues.append(issue("secretValue", "Expected string", "invalid_type"))
        comment = params.data.get("secretComment") if isinstance(params.data.get("secretComment"), str) else None
        new_name = params.string("newSecretName")
        tag_ids = params.string_list("tagIds")
        secret_type = _secret_type(params)
        params.check()
        scope = scope_from(principal, params)
        tags = TagIndex.of(scope)
        value = raw_value if isinstance(raw_value, str) else None
        secret = secret_update(
            scope=scope,
            environment=environment,
            path=path,
            key=name,
            item=SecretInput(
                key=name,
                value=value,
                comment=comment,
                tags=tags.slugs_for_ids(tag_ids) if tag_ids is not None else None,
            ),
            new_key=new_name,
            secret_type=secret_type,
        )
        if value is None:
            value, comment = _current_value(scope, environment, path, secret.key, secret_type)
        return {"secret": model_shape(scope, secret, tags, value=value, comment=comment)}

    def delete(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        environment, path = _location(params)
        secret_type = _secret_type(params)
        params.check()
        scope = scope_from(principal, params)
        secret = secret_delete(scope=scope, environment=environment, path=path, key=name, secret_type=secret_type)
        return {"secret": model_shape(scope, secret, TagIndex.of(scope), value=None, comment=None)}


def _batch_items(params: Params) -> list[dict[str, Any]]:
    items = params.data.get("secrets")
    if not isinstance(items, list) or not items:
        params.issues.append(issue("secrets", "Array must contain at least 1 element(s)", "too_small"))
        return []
    good = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("secretKey"), str):
            params.issues.append(
                {"code": "invalid_type", "path": ["secrets", index, "secretKey"], "message": "Required"}
            )
            continue
        good.append(item)
    return good


def _item_input(item: dict[str, Any], tags: TagIndex) -> SecretInput:
    value = item.get("secretValue")
    comment = item.get("secretComment")
    tag_ids = item.get("tagIds")
    return SecretInput(
        key=item["secretKey"],
        value=value if isinstance(value, str) else None,
        comment=comment if isinstance(comment, str) else None,
        tags=tags.slugs_for_ids([str(tag) for tag in tag_ids]) if isinstance(tag_ids, list) else None,
    )


def _shapes_at(
    scope: ProjectScope, environment: str, path: str, items: list[SecretInput], tags: TagIndex
) -> list[dict[str, Any]]:
    """The written secrets as Infisical answers them (values echoed from the request, never re-read)."""
    _env, folder = folder_get(scope, environment, path)
    given = {item.key: item for item in items}
    secrets = Secret.objects.filter(folder=folder, key__in=list(given), type="shared", deleted_at__isnull=True)
    return [
        model_shape(scope, secret, tags, value=given[secret.key].value, comment=given[secret.key].comment)
        for secret in secrets.select_related("folder__environment").order_by("key")
    ]


def _gate_batch(scope: ProjectScope, environment: str, entries: list[tuple[str, str, SecretInput, str | None]]) -> None:
    """Ask the write gate about a whole batch before its transaction starts (a held write records
    its change request in its own transaction, which the batch's rollback must not undo). One
    change request covers one folder: a batch across folders that a policy protects is refused."""
    by_path: dict[str, list[tuple[str, SecretInput, str | None]]] = {}
    for item_path, op, item, new_name in entries:
        by_path.setdefault(canonical_path(item_path), []).append((op, item, new_name))
    intents = []
    for item_path, items in by_path.items():
        env, folder = folder_get(scope, environment, item_path)
        live = dict(
            Secret.objects.filter(
                folder=folder, key__in=[item.key for _, item, _ in items], type="shared", deleted_at__isnull=True
            ).values_list("key", "version")
        )
        changes = tuple(
            ProposedChange(
                op=op if item.key in live else ChangeOp.CREATE,
                key=item.key,
                value=item.value,
                comment=item.comment,
                tags=tuple(item.tags) if item.tags is not None else None,
                new_key=new_name,
                base_version=live.get(item.key),
            )
            for op, item, new_name in items
            if item.key in live or op != ChangeOp.DELETE
        )
        intents.append(
            WriteIntent(scope=scope, environment=env, folder=folder, operation="secret.batch", changes=changes)
        )
    if len(intents) == 1:
        write_gate_check(intents[0])
        return
    for intent in intents:
        try:
            write_gate_check(intent)
        except HeldForApproval:
            raise CompatError(
                400,
                "This batch spans several folders and a change policy protects one of them; send one batch per folder.",
                error="BadRequest",
            ) from None


class SecretBatchView(CompatView):
    """POST/PATCH/DELETE /api/v3/secrets/batch/raw and /api/v4/secrets/batch."""

    def post(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment, path = _location(params)
        raw_items = _batch_items(params)
        for index, item in enumerate(raw_items):
            if not isinstance(item.get("secretValue"), str):
                params.issues.append(
                    {"code": "invalid_type", "path": ["secrets", index, "secretValue"], "message": "Required"}
                )
        params.check()
        scope = scope_from(principal, params)
        tags = TagIndex.of(scope)
        items = [_item_input(item, tags) for item in raw_items]
        # One transaction for all (the bulk service); an existing key is updated, not refused.
        secret_bulk_upsert(scope=scope, environment=environment, path=path, items=items)
        return {"secrets": _shapes_at(scope, environment, path, items, tags)}

    def patch(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment, path = _location(params)
        raw_items = _batch_items(params)
        mode = params.string("mode", default="failOnNotFound")
        if mode not in ("failOnNotFound", "upsert", "ignore"):
            params.issues.append(
                issue(
                    "mode", "Invalid enum value. Expected 'failOnNotFound' | 'upsert' | 'ignore'", "invalid_enum_value"
                )
            )
        params.check()
        scope = scope_from(principal, params)
        tags = TagIndex.of(scope)
        simple = all(not item.get("newSecretName") and item.get("secretPath") in (None, path) for item in raw_items)
        if mode == "upsert" and simple:
            items = [_item_input(item, tags) for item in raw_items]
            secret_bulk_upsert(scope=scope, environment=environment, path=path, items=items)
            return {"secrets": _shapes_at(scope, environment, path, items, tags)}
        _gate_batch(
            scope,
            environment,
            [
                (
                    raw.get("secretPath") if isinstance(raw.get("secretPath"), str) else path,
                    ChangeOp.UPDATE,
                    _item_input(raw, tags),
                    raw.get("newSecretName") if isinstance(raw.get("newSecretName"), str) else None,
                )
                for raw in raw_items
            ],
        )
        with all_or_nothing(scope):
            shapes = self._update_each(scope, environment, path, raw_items, mode, tags)
        return {"secrets": shapes}

    @staticmethod
    def _update_each(
        scope: ProjectScope, environment: str, path: str, raw_items: list[dict[str, Any]], mode: str, tags: TagIndex
    ) -> list[dict[str, Any]]:
        shapes = []
        for raw in raw_items:
            item = _item_input(raw, tags)
            item_path = raw.get("secretPath") if isinstance(raw.get("secretPath"), str) else path
            new_name = raw.get("newSecretName") if isinstance(raw.get("newSecretName"), str) else None
            try:
                secret = secret_update(
                    scope=scope, environment=environment, path=item_path, key=item.key, item=item, new_key=new_name
                )
            except NotFound as exc:
                if mode == "failOnNotFound" or "path" in exc.fields or "environment" in exc.fields:
                    raise
                if mode == "ignore":
                    continue
                secret = secret_create(scope=scope, environment=environment, path=item_path, item=item)
            shapes.append(model_shape(scope, secret, tags, value=item.value, comment=item.comment))
        return shapes

    def delete(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        environment, path = _location(params)
        raw_items = _batch_items(params)
        params.check()
        scope = scope_from(principal, params)
        tags = TagIndex.of(scope)
        shapes = []
        _gate_batch(
            scope,
            environment,
            [
                (path, ChangeOp.DELETE, SecretInput(key=raw["secretKey"]), None)
                for raw in raw_items
                if raw.get("type", "shared") == "shared"
            ],
        )
        with all_or_nothing(scope):  # a failure part-way deletes nothing
            for raw in raw_items:
                secret_type = raw.get("type") if raw.get("type") in ("shared", "personal") else "shared"
                secret = secret_delete(
                    scope=scope, environment=environment, path=path, key=raw["secretKey"], secret_type=secret_type
                )
                shapes.append(model_shape(scope, secret, tags, value=None, comment=None))
        return {"secrets": shapes}

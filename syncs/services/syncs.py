"""Creating, changing and removing secret syncs. The caller holds a ProjectScope; these services
check ``syncs.manage`` themselves (audited refusal) and record the audit event in the same
transaction as the write."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.models import Environment
from secrets_app.paths import canonical_path
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from syncs.access import require_syncs
from syncs.locks import lock_acquire, lock_release
from syncs.models import AppConnection, InitialBehavior, SecretSync, SyncManagedKey, SyncStatus
from syncs.providers.base import ConfigError, ProviderError, SyncContext, validate_template
from syncs.providers.registry import provider_for
from syncs.sanitize import safe_error
from syncs.services.connections import connection_info
from syncs.services.queue import sync_request_run


def _audit(scope: ProjectScope, action: str, sync: SecretSync, **metadata: Any) -> None:
    scope.audit(
        action,
        environment=sync.environment.slug,
        path=sync.path,
        resource_type="sync",
        resource_id=str(sync.public_id),
        metadata={"name": sync.name, "destination": sync.target_key, **metadata},
    )


def _environment(scope: ProjectScope, slug: str) -> Environment:
    environment = Environment.objects.filter(project=scope.project, slug=slug).first()
    if environment is None or not scope.access.sees_environment(slug):
        raise ValidationFailed("environment", "no such environment")
    return environment


def _config_error(exc: ConfigError) -> ValidationFailed:
    field, _, message = str(exc).partition(": ")
    if message and " " not in field:
        return ValidationFailed(field, message)
    return ValidationFailed("destination", str(exc))


def _check_options(initial_behavior: str, key_name_template: str) -> None:
    if initial_behavior not in InitialBehavior.values:
        raise ValidationFailed("initialBehavior", f"must be one of {', '.join(InitialBehavior.values)}")
    problem = validate_template(key_name_template)
    if problem:
        raise ValidationFailed("keyNameTemplate", problem)


def sync_create(
    *,
    scope: ProjectScope,
    name: str,
    environment: str,
    path: str,
    connection: AppConnection,
    destination: Mapping[str, Any],
    recursive: bool = False,
    auto_sync: bool = True,
    initial_behavior: str = InitialBehavior.OVERWRITE_DESTINATION,
    confirm_overwrite: bool = False,
    key_name_template: str = "{{secretKey}}",
    delete_on_source_removal: bool = True,
    provider_options: Mapping[str, Any] | None = None,
) -> SecretSync:
    """Create a sync owned by the caller and queue its first run.

    The caller must manage syncs in the project and be able to read the source's values
    (``secrets.read_value``): a sync pushes values out, so it cannot be a way around read access.
    ``overwrite_destination`` takes over existing remote keys of the same name, so it needs
    ``confirm_overwrite`` (and is audited as such)."""
    require_syncs(scope, "syncs.manage")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name", "this field is required")
    env = _environment(scope, environment)
    path = canonical_path(path or "/")
    require(scope, "secrets.read_value", environment=env.slug, path=path, some_tags=True)
    _check_options(initial_behavior, key_name_template)
    if initial_behavior == InitialBehavior.OVERWRITE_DESTINATION and not confirm_overwrite:
        raise ValidationFailed(
            "confirmOverwrite",
            "overwrite_destination replaces destination keys that have the same names as your secrets; confirm it",
        )
    if connection.organization_id != scope.project.organization_id:
        raise NotFound("Connection not found")
    provider = provider_for(connection.kind)
    try:
        cleaned = provider.validate_destination(destination, connection.config)
    except ConfigError as exc:
        raise _config_error(exc) from None
    sync = SecretSync(
        project=scope.project,
        environment=env,
        path=path,
        recursive=recursive,
        name=name[:120],
        connection=connection,
        destination=cleaned,
        target_key=provider.target_key(cleaned)[:600],
        auto_sync=auto_sync,
        initial_behavior=initial_behavior,
        key_name_template=key_name_template,
        delete_on_source_removal=delete_on_source_removal,
        provider_options=dict(provider_options or {}),
        owner=scope.principal.user,
    )
    try:
        with transaction.atomic():
            sync.save()
            _audit(
                scope,
                "sync.created",
                sync,
                connection=str(connection.public_id),
                initialBehavior=initial_behavior,
                overwriteConfirmed=bool(confirm_overwrite),
                keyNameTemplate=key_name_template,
                deleteOnSourceRemoval=delete_on_source_removal,
            )
            sync_request_run(sync_id=sync.pk, trigger="created", countdown=0)
    except IntegrityError:
        raise Conflict(f"A sync named '{name}' already exists", fields={"name": ["already exists"]}) from None
    sync.refresh_from_db()
    return sync


UPDATABLE = ("name", "path", "recursive", "auto_sync", "key_name_template", "delete_on_source_removal")


def sync_update(*, scope: ProjectScope, sync: SecretSync, changes: Mapping[str, Any]) -> SecretSync:
    """Change a sync's name, source or options (not its connection or destination: a different
    destination is a different sync). Whoever changes the source becomes the owner (the sync then
    reads with their access), and must be able to read the new source's values."""
    require_syncs(scope, "syncs.manage", resource=str(sync.public_id))
    changed: list[str] = []
    for field in UPDATABLE:
        if field in changes and changes[field] is not None:
            value = changes[field]
            if field == "path":
                value = canonical_path(value)
            if field == "name":
                value = str(value).strip()[:120]
                if not value:
                    raise ValidationFailed("name", "this field is required")
            if getattr(sync, field) != value:
                setattr(sync, field, value)
                changed.append(field)
    if "environment" in changes and changes["environment"] and changes["environment"] != sync.environment.slug:
        sync.environment = _environment(scope, changes["environment"])
        changed.append("environment")
    if "initial_behavior" in changes and changes["initial_behavior"]:
        if changes["initial_behavior"] == InitialBehavior.OVERWRITE_DESTINATION and not changes.get(
            "confirm_overwrite"
        ):
            if sync.initial_behavior != InitialBehavior.OVERWRITE_DESTINATION:
                raise ValidationFailed("confirmOverwrite", "confirm that destination keys may be overwritten")
        if sync.initial_behavior != changes["initial_behavior"]:
            sync.initial_behavior = changes["initial_behavior"]
            changed.append("initial_behavior")
    _check_options(sync.initial_behavior, sync.key_name_template)
    source_changed = {"path", "recursive", "environment", "key_name_template"} & set(changed)
    if source_changed:
        require(scope, "secrets.read_value", environment=sync.environment.slug, path=sync.path, some_tags=True)
        if scope.principal.user_id is not None and sync.owner_id != scope.principal.user_id:
            sync.owner = scope.principal.user
            changed.append("owner")
    if not changed:
        return sync
    try:
        with transaction.atomic():
            sync.save()
            _audit(scope, "sync.updated", sync, changed=changed)
            if source_changed or "auto_sync" in changed:
                sync_request_run(sync_id=sync.pk, trigger="manual", countdown=0, source_changed=True)
    except IntegrityError:
        raise Conflict("A sync with this name already exists", fields={"name": ["already exists"]}) from None
    sync.refresh_from_db()
    return sync


def sync_trigger(*, scope: ProjectScope, sync: SecretSync, force: bool = False) -> bool:
    """ "Sync now" (or, with *force*, rewrite every managed value: the drift "overwrite" action).
    Returns True when a run was queued now (False: one is already queued or running; it will
    pick the request up)."""
    require_syncs(scope, "syncs.manage", resource=str(sync.public_id))
    with transaction.atomic():
        if force:
            SecretSync.objects.filter(pk=sync.pk).update(force_next_run=True)
        _audit(scope, "sync.drift_overwrite_requested" if force else "sync.run_requested", sync)
        return sync_request_run(
            sync_id=sync.pk, trigger="drift_overwrite" if force else "manual", countdown=0, source_changed=True
        )


def sync_delete(*, scope: ProjectScope, sync: SecretSync, remove_managed: bool = False) -> dict[str, Any]:
    """Remove a sync. With *remove_managed*, first delete the remote keys it manages — and only
    those — and the container only if this sync created it and it is then empty. Without it, the
    destination is left exactly as it is. A destination that cannot be reached makes the removal
    fail (409) when *remove_managed* was asked, so nothing is orphaned silently."""
    require_syncs(scope, "syncs.manage", resource=str(sync.public_id))
    if sync.status == SyncStatus.RUNNING:
        raise Conflict("The sync is running; try again when the run has finished")
    # Hold the destination lock: no run of this (or another) sync writes the container meanwhile.
    holder = f"delete-{uuid.uuid4().hex}"
    if not lock_acquire(sync.target_key, holder):
        raise Conflict("A sync is writing to this destination right now; try again in a moment")
    try:
        return _delete_locked(scope, sync, remove_managed)
    finally:
        lock_release(sync.target_key, holder)


def _delete_locked(scope: ProjectScope, sync: SecretSync, remove_managed: bool) -> dict[str, Any]:
    names = list(SyncManagedKey.objects.filter(sync=sync).values_list("name", flat=True))
    removed: list[str] = []
    warnings: list[dict[str, str]] = []
    container_deleted = False
    if remove_managed and names:
        provider = provider_for(sync.connection.kind)
        info = connection_info(sync.connection)
        try:
            destination = provider.validate_destination(sync.destination, info.config)
            ctx = SyncContext(
                sync_id=sync.pk,
                connection=info,
                destination=destination,
                created_container=sync.created_container,
                state=dict(sync.remote_state),
            )
            kept = provider.delete_items(ctx, names, delete_container=sync.created_container) or {}
        except ProviderError as exc:
            message = safe_error(exc, secrets=[str(v) for v in info.credentials.values()])
            raise Conflict(f"Could not remove the managed keys at the destination: {message}") from None
        # A name the provider deliberately left alone is reported as a warning, never as removed.
        warnings = [{"name": name, "message": f"{name} {reason}"} for name, reason in sorted(kept.items())]
        removed = [name for name in names if name not in kept]
        container_deleted = sync.created_container and not kept
    left = [name for name in names if name not in removed]
    with transaction.atomic():
        _audit(
            scope,
            "sync.deleted",
            sync,
            removeManaged=remove_managed,
            removed=removed[:500],
            left=left[:500],
            warnings=warnings[:500],
            containerMayBeDeleted=container_deleted,
        )
        sync.delete()
    return {"removed": removed, "left": left, "warnings": warnings}

"""Drift: what changed at the destination behind the sync's back, and the two ways to settle it.

``sync_drift_check`` reads the destination and compares it with what the sync last applied
(``SyncManagedKey`` digests and versions, ``SecretSync.remote_state``); the provider decides what
its destination lets us see (docs/syncs.md lists it per destination). Results replace the sync's
``DriftEntry`` rows. Settling:
- overwrite: the next run rewrites every managed value from Strongroom (``sync_trigger(force=True)``);
- adopt: the destination's value becomes a new Strongroom version — only when the destination
  reveals the value (never for Azure DevOps secret variables).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.selectors.access import ProjectScope
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert
from syncs.access import require_syncs
from syncs.models import DriftEntry, SecretSync, SyncManagedKey
from syncs.providers.base import ManagedState, ProviderError, RemoteItem, SyncContext, unmap_name
from syncs.providers.registry import provider_for
from syncs.sanitize import safe_error
from syncs.services.connections import connection_info
from syncs.services.runs import sync_actor
from syncs.services.source import value_digest

logger = logging.getLogger("strongroom.syncs")


def _remote(sync: SecretSync) -> tuple[dict[str, RemoteItem], list[str]]:
    provider = provider_for(sync.connection.kind)
    info = connection_info(sync.connection)
    destination = provider.validate_destination(sync.destination, info.config)
    ctx = SyncContext(
        sync_id=sync.pk,
        connection=info,
        destination=destination,
        created_container=sync.created_container,
        state=dict(sync.remote_state),
    )
    return provider.read_remote(ctx), [str(v) for v in info.credentials.values()]


def sync_drift_check(*, sync_id: int) -> list[DriftEntry]:
    """Compare one sync's destination with its last applied state and store the differences.
    Raises ProviderError when the destination cannot be read (nothing is replaced then)."""
    sync = SecretSync.objects.select_related("connection", "project", "environment").get(pk=sync_id)
    provider = provider_for(sync.connection.kind)
    remote, _ = _remote(sync)
    rows = list(SyncManagedKey.objects.filter(sync=sync))
    managed = {
        row.name: ManagedState(row.name, row.digest, row.remote_version, row.created_by_sync, row.source_key)
        for row in rows
    }
    by_name = {row.name.lower(): row for row in rows}
    items = []
    for item in provider.drift(remote, managed, set(managed), state=sync.remote_state):
        there = remote.get(item.name) or next((r for n, r in remote.items() if n.lower() == item.name.lower()), None)
        row = by_name.get(item.name.lower())
        # A readable value that still matches what we wrote is no drift, whatever its version says.
        if (
            item.kind == "changed"
            and there is not None
            and there.value is not None
            and row is not None
            and row.digest
            and there.is_secret
            and value_digest(sync.pk, row.source_key, there.value) == row.digest
        ):
            continue
        items.append(item)
    now = timezone.now()
    with transaction.atomic():
        DriftEntry.objects.filter(sync=sync).delete()
        entries = DriftEntry.objects.bulk_create(
            [
                DriftEntry(
                    sync=sync,
                    name=item.name[:512],
                    kind=item.kind,
                    detail=item.detail[:240],
                    adoptable=item.adoptable,
                    detected_at=now,
                )
                for item in items
            ]
        )
        SecretSync.objects.filter(pk=sync.pk).update(last_drift_check_at=now)
        significant = [item for item in items if item.kind != "unmanaged"]
        if significant:
            audit_record(
                action="sync.drift_detected",
                actor=sync_actor(sync),
                outcome=Outcome.ALLOW,
                organization_id=sync.project.organization_id,
                project_id=sync.project_id,
                environment=sync.environment.slug,
                path=sync.path,
                resource_type="sync",
                resource_id=str(sync.public_id),
                metadata={"items": [f"{item.kind}:{item.name}" for item in significant][:200]},
            )
    return entries


def sync_drift_check_safe(*, sync_id: int) -> str:
    """For the beat: never raises; returns a short outcome."""
    try:
        return f"{len(sync_drift_check(sync_id=sync_id))} item(s)"
    except ProviderError as exc:
        logger.info("sync %s: drift check failed: %s", sync_id, safe_error(exc))
        return "failed"
    except SecretSync.DoesNotExist:
        return "gone"


def sync_drift_adopt(*, scope: ProjectScope, sync: SecretSync, name: str) -> dict[str, Any]:
    """Write the destination's current value of *name* into Strongroom as a new version (as the
    caller: their write permissions apply) and record it as what the sync applied, so the next
    run sees nothing to do. Only possible when the destination reveals the value."""
    require_syncs(scope, "syncs.manage", resource=str(sync.public_id))
    remote = _remote_or_conflict(sync)
    there = next((item for n, item in remote.items() if n.lower() == name.lower()), None)
    if there is None:
        raise ValidationFailed("name", "not present at the destination")
    if there.value is None:
        raise Conflict(
            "The destination does not reveal this value (Azure DevOps never returns secret variables), "
            "so it cannot be adopted; use overwrite instead"
        )
    row = SyncManagedKey.objects.filter(sync=sync, name__iexact=there.name).first()
    key = (row.source_key if row and row.source_key else None) or unmap_name(
        there.name, sync.key_name_template, environment=sync.environment.slug
    )
    if not key:
        raise ValidationFailed("name", "does not match this sync's key name template")
    secret_bulk_upsert(
        scope=scope, environment=sync.environment.slug, path=sync.path, items=[SecretInput(key=key, value=there.value)]
    )
    with transaction.atomic():
        SyncManagedKey.objects.update_or_create(
            sync=sync,
            name=there.name,
            defaults={
                "source_key": key,
                "digest": value_digest(sync.pk, key, there.value),
                "remote_version": there.version,
            },
        )
        DriftEntry.objects.filter(sync=sync, name__iexact=there.name).delete()
        scope.audit(
            "sync.drift_adopted",
            environment=sync.environment.slug,
            path=sync.path,
            resource_type="sync",
            resource_id=str(sync.public_id),
            metadata={"name": there.name, "key": key},
        )
    return {"name": there.name, "key": key}


def _remote_or_conflict(sync: SecretSync) -> dict[str, RemoteItem]:
    try:
        return _remote(sync)[0]
    except ProviderError as exc:
        raise Conflict(f"Could not read the destination: {safe_error(exc)}") from None

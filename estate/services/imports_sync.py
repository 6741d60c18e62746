"""Turning an imported variable group into the target of a Strongroom sync: from then on
Strongroom is the source of truth and the sync writes the group.

What the sync does to the group (syncs/providers/azure_devops): it takes over the variables whose
names are keys of the import's folder (``overwrite_destination``: their values become Strongroom's,
every one a secret) and re-sends every other variable of the group exactly as Azure DevOps gave it
(nothing else in the group is touched). A key that differs from the Azure DevOps name is written as
a new variable under the key's name; the old one stays until someone removes it.
"""

from __future__ import annotations

from estate.models import EstateImport, ImportStatus, ResourceKind
from estate.services.imports_source import KEY_VAULT
from estate.services.imports_write import import_scope
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.policy.enforcement import all_or_nothing
from secrets_app.principals import Principal
from syncs.models import InitialBehavior, SecretSync

CONFIRM_MESSAGE = (
    "converting to a sync hands the group to Strongroom: the variables named like the secrets of "
    "{place} ({count} imported) are taken over and overwritten with Strongroom's values on every change; "
    "nothing else in the group is touched"
)


def import_convert_to_sync(
    *, principal: Principal, estate_import: EstateImport, sync_name: str | None = None, confirm: bool = False
) -> SecretSync:
    """Create the sync from the import's place to its variable group (``sync_create``: needs
    ``syncs.manage`` and ``secrets.read_value``), mark the resource managed by it and queue its
    first run. Refused without *confirm* (the message says what will be taken over), for a
    pipeline or a Key Vault-linked group, and before the import was applied. Idempotent: a second
    call returns the existing sync. Audited ``estate.import_converted_to_sync``."""
    from syncs.services.syncs import sync_create

    resource = estate_import.resource
    if estate_import.sync_id is not None:
        existing = SecretSync.objects.filter(pk=estate_import.sync_id).first()
        if existing is not None:
            return existing
    if resource.kind != ResourceKind.VARIABLE_GROUP:
        raise ValidationFailed("import", "only a variable group can become the target of a sync")
    if str((resource.details or {}).get("type") or "") == KEY_VAULT:
        raise ValidationFailed(
            "import", "a Key Vault-linked group reads its vault: sync into the vault instead (an Azure Key Vault sync)"
        )
    if estate_import.status in (ImportStatus.DRAFT, ImportStatus.HELD, ImportStatus.FAILED):
        raise Conflict(f"Apply the import first (it is {estate_import.get_status_display().lower()})")
    scope = import_scope(principal, estate_import)
    place = f"{estate_import.environment.slug}:{estate_import.path}"
    if not confirm:
        kept = estate_import.items.exclude(status="skipped")
        message = CONFIRM_MESSAGE.format(place=place, count=kept.count())
        renamed = sorted(item.ado_name for item in kept if item.key != item.ado_name)
        if renamed:
            message += (
                f". {len(renamed)} variable(s) imported under another key ({', '.join(renamed[:5])}) will be added "
                "under the key's name; the old variables stay until you remove them"
            )
        raise ValidationFailed("confirm", message + ". Send confirm=true to go ahead")
    name = (sync_name or "").strip() or f"ado-{resource.ado_project_name}-{resource.name}"[:120]
    with all_or_nothing(scope):
        locked = EstateImport.objects.select_for_update().get(pk=estate_import.pk)
        if locked.sync_id is not None and SecretSync.objects.filter(pk=locked.sync_id).exists():
            return SecretSync.objects.get(pk=locked.sync_id)
        sync = sync_create(
            scope=scope,
            name=name,
            environment=locked.environment.slug,
            path=locked.path,
            connection=resource.connection,
            destination={"project": resource.ado_project_name or resource.ado_project_id, "group_name": resource.name},
            initial_behavior=InitialBehavior.OVERWRITE_DESTINATION,
            confirm_overwrite=True,
        )
        locked.sync = sync
        locked.save(update_fields=["sync", "updated_at"])
        resource.managed_by_sync = sync
        resource.save(update_fields=["managed_by_sync"])
        scope.audit(
            "estate.import_converted_to_sync",
            environment=locked.environment.slug,
            path=locked.path,
            resource_type="estate_import",
            resource_id=str(locked.public_id),
            metadata={
                "resource": resource.name,
                "adoProject": resource.ado_project_name,
                "sync": str(sync.public_id),
                "syncName": sync.name,
            },
        )
    estate_import.sync = sync
    return sync

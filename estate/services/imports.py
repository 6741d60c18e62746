"""Guided import of an Azure DevOps variable group or pipeline's variables into one Strongroom place.

The flow: ``import_suggest`` guesses the place and keys → ``import_create`` records the mapping
(``EstateImport`` + one ``EstateImportItem`` per variable; idempotent per resource and place) →
``import_preview`` says what applying would do → ``import_apply`` copies plain values (and a Key
Vault-linked group's values, read through a Strongroom Key Vault connection) with one bulk upsert
→ ``import_values_enter`` / ``import_values_csv`` take the secret values Azure DevOps never returns
(imports_values.py) → ``import_convert_to_sync`` makes the group the target of a Strongroom sync
(imports_sync.py). ``import_pipeline_yaml`` (pipeline_yaml.py) shows the pipeline without the group.

Every write goes through the secrets service (which asks the permission decision point for
``secrets.create`` / ``secrets.edit`` and the approval write gate); a held write leaves the import
HELD with the change request's id. Values are read fresh from Azure DevOps each time, compared or
written in memory, and never stored anywhere but Strongroom's encrypted versions; audit metadata
holds names and counts only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from estate.models import (
    EstateImport,
    EstateImportItem,
    EstateResource,
    ItemSource,
    ItemStatus,
    ResourceKind,
)
from estate.services.import_mapping import ImportSuggestion, import_suggest, suggest_key, variables_of
from estate.services.imports_source import (
    SourceRead,
    default_vault_url,
    item_source,
    key_vault_connection_get,
    source_read,
    vault_read,
)
from estate.services.imports_write import (
    bulk_write,
    import_scope,
    live_keys,
    live_values,
    live_versions,
    recompute_status,
)
from secrets_app.errors import ValidationFailed
from secrets_app.models import Organization
from secrets_app.paths import canonical_path
from secrets_app.policy.enforcement import all_or_nothing, require
from secrets_app.principals import Principal
from secrets_app.selectors.access import project_scope
from secrets_app.selectors.tree import environment_get
from secrets_app.validation import validate_secret_key

__all__ = [
    "ImportPreview",
    "ImportSuggestion",
    "import_apply",
    "import_convert_to_sync",
    "import_create",
    "import_pipeline_yaml",
    "import_preview",
    "import_suggest",
    "import_values_csv",
    "import_values_enter",
]

IMPORTABLE = (ResourceKind.VARIABLE_GROUP, ResourceKind.PIPELINE)
GONE_NOTE = "no longer in Azure DevOps"
UNCOMPARED_NOTE = "already in Strongroom; not compared (you may not read its value)"


def _importable(organization: Organization, resource: EstateResource) -> None:
    if resource.organization_id != organization.pk or resource.kind not in IMPORTABLE:
        raise ValidationFailed("resource", "must be a variable group or pipeline of this organization")


def _clean_keys(names: set[str], keys: dict[str, str] | None) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for name, key in (keys or {}).items():
        if name not in names:
            raise ValidationFailed("keys", f"'{name}' is not a variable of this resource")
        cleaned[name] = validate_secret_key(key, field=f"keys.{name}")
    return cleaned


def _sync_items(
    estate_import: EstateImport,
    variables: dict[str, tuple[bool, str]],
    *,
    keys: dict[str, str] | None = None,
    skip: Iterable[str] | None = None,
) -> None:
    """Bring the import's items in line with *variables* ({name: (is_secret, source)}): new ones
    added (key suggested unless mapped), changed flags updated, vanished ones SKIPPED with a note;
    *keys* re-maps, *skip* (when given) is the whole list of names to leave out. Refuses two names
    mapping to one key."""
    keys = keys or {}
    skipped = set(skip) if skip is not None else None
    existing = {item.ado_name: item for item in estate_import.items.all()}
    for name, (is_secret, source) in variables.items():
        item = existing.get(name) or EstateImportItem(estate_import=estate_import, ado_name=name, key=suggest_key(name))
        if name in keys:
            item.key = keys[name]
        flags_changed = item.pk is not None and (item.is_secret != is_secret or item.source != source)
        item.is_secret, item.source = is_secret, source
        if skipped is not None and name in skipped:
            item.status, item.note = ItemStatus.SKIPPED, "left out"
        elif item.status == ItemStatus.SKIPPED and (skipped is not None or item.note == GONE_NOTE):
            item.status, item.note = ItemStatus.PENDING, ""
        elif flags_changed and item.status == ItemStatus.IMPORTED and source == ItemSource.REENTRY:
            item.status, item.note = ItemStatus.NEEDS_VALUE, "became a secret in Azure DevOps"
        existing[name] = item
    for name, item in existing.items():
        if name not in variables and item.status != ItemStatus.SKIPPED:
            item.status, item.note = ItemStatus.SKIPPED, GONE_NOTE
    seen: dict[str, str] = {}
    for name, item in sorted(existing.items()):
        if item.status == ItemStatus.SKIPPED:
            continue
        if item.key in seen:
            raise ValidationFailed("keys", f"'{seen[item.key]}' and '{name}' both map to the key '{item.key}'")
        seen[item.key] = name
    for item in existing.values():
        item.save()


def _scanned_variables(resource: EstateResource) -> dict[str, tuple[bool, str]]:
    result: dict[str, tuple[bool, str]] = {}
    for raw in variables_of(resource):
        secret = bool(raw.get("is_secret"))
        result[str(raw.get("name"))] = (secret, item_source(resource, is_secret=secret))
    return result


def _fresh_variables(read: SourceRead) -> dict[str, tuple[bool, str]]:
    return {name: (var.is_secret, var.source) for name, var in read.variables.items()}


def import_create(
    *,
    principal: Principal,
    organization: Organization,
    resource: EstateResource,
    project: str,
    environment: str,
    path: str,
    keys: dict[str, str] | None = None,
    skip: list[str] | None = None,
) -> EstateImport:
    """Record the import of *resource* (a variable group or pipeline of *organization*) into
    project/environment/path, with one item per variable as the latest scan knows them.

    Idempotent: the same resource and place return the existing import, its items re-derived
    (new variables added, vanished ones skipped; *keys* and *skip* applied when given). NotFound
    for a project or environment the principal cannot see; PermissionDenied without
    ``secrets.create`` at the place. Audited ``estate.import_created``."""
    _importable(organization, resource)
    scope = project_scope(principal, str(project or ""))
    if scope.project.organization_id != organization.pk:
        raise ValidationFailed("project", "must be a project of this organization")
    env = environment_get(scope, str(environment or ""))
    place = canonical_path(path or "/")
    require(scope, "secrets.create", environment=env.slug, path=place)
    variables = _scanned_variables(resource)
    keys_cleaned = _clean_keys(set(variables), keys)
    unknown_skips = sorted(set(skip or ()) - set(variables))
    if unknown_skips:
        raise ValidationFailed("skip", f"'{unknown_skips[0]}' is not a variable of this resource")
    with all_or_nothing(scope):
        estate_import, created = EstateImport.objects.select_for_update().get_or_create(
            resource=resource,
            project=scope.project,
            environment=env,
            path=place,
            defaults={
                "organization": organization,
                "created_by": principal.user if principal.kind == "user" else None,
            },
        )
        _sync_items(estate_import, variables, keys=keys_cleaned, skip=skip)
        estate_import.save(update_fields=["updated_at"])
        scope.audit(
            "estate.import_created",
            environment=env.slug,
            path=place,
            resource_type="estate_import",
            resource_id=str(estate_import.public_id),
            metadata={
                "resource": resource.name,
                "kind": resource.kind,
                "adoProject": resource.ado_project_name,
                "items": len(variables),
                "new": created,
            },
        )
    return estate_import


# --- preview -------------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    ado_name: str
    key: str
    is_secret: bool
    source: str
    action: str  # create | update | unchanged | needs_value | skipped
    note: str = ""


@dataclass
class ImportPreview:
    """What applying would do now, per variable, plus words about the place and Key Vault."""

    rows: list[PreviewRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    vault_url: str = ""
    vault_readable: bool | None = None  # None: not a Key Vault group, or no connection given
    vault_error: str = ""
    other_keys: list[str] = field(default_factory=list)  # keys already in the folder, not in this import
    sync_note: str = ""


def _values_for(
    estate_import: EstateImport, read: SourceRead, key_vault_connection: str | None, vault_url: str | None
) -> tuple[dict[str, str], dict[str, str], str, str]:
    """(values by ADO name, notes by ADO name, vault url, vault error) for the items that can be
    read now: plain values from the fresh read; Key Vault values through the connection."""
    values: dict[str, str] = {}
    notes: dict[str, str] = {}
    for name, var in read.variables.items():
        if var.source == ItemSource.PLAIN and var.value is not None:
            values[name] = var.value
    url, error = "", ""
    kv_names = [name for name, var in read.variables.items() if var.source == ItemSource.KEY_VAULT and var.enabled]
    for name, var in read.variables.items():
        if var.source == ItemSource.KEY_VAULT and not var.enabled:
            notes[name] = "disabled in the vault: enable it there, or enter the value"  # reading it would be refused
    if kv_names:
        url = str(vault_url or "").strip() or default_vault_url(read.vault)
        if not key_vault_connection:
            notes.update({name: "give a Key Vault connection to read it from the vault" for name in kv_names})
        else:
            connection = key_vault_connection_get(estate_import.organization, key_vault_connection)
            found = vault_read(connection, url, kv_names)
            error = found.error
            values.update(found.values)
            for name in kv_names:
                if error:
                    notes[name] = "the vault could not be read"
                elif name in found.missing:
                    notes[name] = "not in the vault (or disabled)"
    for name, var in read.variables.items():
        if var.source == ItemSource.REENTRY:
            notes[name] = "Azure DevOps does not return secret values: enter it"
    return values, notes, url, error


def import_preview(
    *,
    principal: Principal,
    estate_import: EstateImport,
    key_vault_connection: str | None = None,
    vault_url: str | None = None,
) -> ImportPreview:
    """Read the resource fresh and say, per variable, what applying would do. Plain values are
    compared in memory with Strongroom's current values; nothing is written."""
    scope = import_scope(principal, estate_import)
    read = source_read(estate_import.resource)
    values, notes, url, error = _values_for(estate_import, read, key_vault_connection, vault_url)
    items = {item.ado_name: item for item in estate_import.items.all()}
    wanted = [item.key for item in items.values()] + [suggest_key(name) for name in read.variables if name not in items]
    live, unreadable = live_values(scope, estate_import, wanted)
    preview = ImportPreview(vault_url=url, vault_error=error)
    if read.group_type == "AzureKeyVault" and key_vault_connection:
        preview.vault_readable = not error
    names = sorted(set(read.variables) | set(items))
    for name in names:
        var = read.variables.get(name)
        item = items.get(name)
        key = item.key if item is not None else suggest_key(name)
        if var is None or (item is not None and item.status == ItemStatus.SKIPPED):
            row = PreviewRow(name, key, bool(item and item.is_secret), item.source if item else "", "skipped")
            row.note = GONE_NOTE if var is None else (item.note if item else "")
        elif name in values:
            note = notes.get(name, "")
            if key in unreadable:
                action, note = "update", UNCOMPARED_NOTE
            elif key not in live:
                action = "create"
            else:
                action = "unchanged" if live[key] == values[name].encode() else "update"
            row = PreviewRow(name, key, var.is_secret, var.source, action, note)
        elif item is not None and item.status == ItemStatus.IMPORTED and var.source != ItemSource.PLAIN:
            row = PreviewRow(name, key, var.is_secret, var.source, "unchanged", "value entered before")
        else:
            row = PreviewRow(name, key, var.is_secret, var.source, "needs_value", notes.get(name, ""))
        preview.rows.append(row)
    for row in preview.rows:
        preview.counts[row.action] = preview.counts.get(row.action, 0) + 1
    imported_keys = {row.key for row in preview.rows}
    preview.other_keys = sorted(key for key in live_keys(estate_import) if key not in imported_keys)
    if estate_import.resource.kind == ResourceKind.VARIABLE_GROUP:
        preview.sync_note = (
            "Converted to a sync, the group would receive every secret of "
            f"{estate_import.environment.slug}:{estate_import.path}"
            + (f", including {len(preview.other_keys)} not imported from it" if preview.other_keys else "")
            + "; variables of the group that Strongroom does not hold are left alone."
        )
    compared = sorted(row.key for row in preview.rows if row.key in live)
    del values, live
    with transaction.atomic():
        # A preview writes nothing, but it compares values: who compared which keys is recorded.
        scope.audit(
            "estate.import_previewed",
            environment=estate_import.environment.slug,
            path=estate_import.path,
            resource_type="estate_import",
            resource_id=str(estate_import.public_id),
            metadata={"resource": estate_import.resource.name, "counts": preview.counts, "compared": compared[:500]},
        )
    return preview


# --- apply ---------------------------------------------------------------------------------------


def import_apply(
    *,
    principal: Principal,
    estate_import: EstateImport,
    key_vault_connection: str | None = None,
    vault_url: str | None = None,
) -> EstateImport:
    """Read the resource fresh and write every value that can be had now (plain values; Key Vault
    values through *key_vault_connection*, vault URL from the group unless given) into the place
    with one bulk upsert, all or nothing. Secret values Azure DevOps does not return leave their
    items NEEDS_VALUE. Status COMPLETE, NEEDS_VALUES, or HELD with the change request when an
    approval policy holds the write. Applying again writes nothing new for unchanged values.
    Audited ``estate.import_applied`` (names and counts)."""
    scope = import_scope(principal, estate_import)
    read = source_read(estate_import.resource)
    values, notes, url, error = _values_for(estate_import, read, key_vault_connection, vault_url)
    if error:
        raise ValidationFailed("keyVaultConnection", f"the vault {url} could not be read: {error}")
    with all_or_nothing(scope):
        locked = EstateImport.objects.select_for_update().get(pk=estate_import.pk)
        _sync_items(locked, _fresh_variables(read))
        items = [item for item in locked.items.all() if item.status != ItemStatus.SKIPPED]
        writes = {item.key: values[item.ado_name] for item in items if item.ado_name in values}
        # Only what differs is sent: an unchanged value keeps its version and is never held for approval.
        current, _ = live_values(scope, locked, list(writes))  # a value it may not read is sent as is
        changed = {key: value for key, value in writes.items() if current.get(key) != value.encode()}
        outcome = bulk_write(scope, locked, changed)
        outcome.counts["unchanged"] += len(writes) - len(changed)
        versions = live_versions(locked, [item.key for item in items])
        now = timezone.now()
        for item in items:
            if item.key in changed and outcome.held is not None:
                item.status, item.note = ItemStatus.PENDING, "held for approval"
            elif item.key in writes:
                item.status, item.note = ItemStatus.IMPORTED, ""
                item.imported_version, item.imported_at = versions.get(item.key), now
            elif item.status != ItemStatus.IMPORTED or item.source == ItemSource.PLAIN:
                item.status = ItemStatus.NEEDS_VALUE
                item.note = notes.get(item.ado_name, "no value in Azure DevOps")[:240]
            item.save()
        del writes, changed, current, values
        locked.counts = {**outcome.counts, **_status_counts(locked)}
        locked.applied_at = now
        locked.error = ""
        recompute_status(locked, held=outcome.held)
        locked.save()
        scope.audit(
            "estate.import_applied",
            environment=locked.environment.slug,
            path=locked.path,
            resource_type="estate_import",
            resource_id=str(locked.public_id),
            metadata={
                "resource": locked.resource.name,
                "status": locked.status,
                "counts": locked.counts,
                "keys": sorted(outcome.written)[:500],
                "needsValue": sorted(i.ado_name for i in items if i.status == ItemStatus.NEEDS_VALUE)[:500],
                "changeRequest": outcome.held_id,
                "keyVault": bool(key_vault_connection),
            },
        )
    return locked


def _status_counts(estate_import: EstateImport) -> dict[str, int]:
    statuses = list(estate_import.items.values_list("status", flat=True))
    return {
        "needs_value": statuses.count(ItemStatus.NEEDS_VALUE),
        "skipped": statuses.count(ItemStatus.SKIPPED),
    }


from estate.services.imports_sync import import_convert_to_sync  # noqa: E402 - re-exported
from estate.services.imports_values import import_values_csv, import_values_enter  # noqa: E402 - re-exported
from estate.services.pipeline_yaml import import_pipeline_yaml  # noqa: E402 - re-exported

"""Secret writes: create, update, delete, bulk upsert. Each is one transaction that appends
versions, records the folder commit and the audit event together, and announces the change."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from secrets_app.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from secrets_app.events import announce_secret_change
from secrets_app.models import Environment, Folder, Secret, SecretType, Tag
from secrets_app.policy import ACTIONS
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get
from secrets_app.services.versions import folder_commit_record, version_first_write, version_write
from secrets_app.validation import encode_secret_value, validate_secret_key
from secrets_app.write_gate import ChangeOp, ProposedChange, WriteIntent, write_gate_check

UNSET = object()
MAX_BULK_ITEMS = 1000


@dataclass
class SecretInput:
    key: str
    value: str | None = None
    comment: str | None = None
    tags: list[str] | None = None
    owner_label: str | None = None
    purpose: str | None = None
    expires_at: datetime.datetime | None | object = UNSET


@dataclass
class BulkResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _tags_for(scope: ProjectScope, slugs: Sequence[str] | None) -> list[Tag] | None:
    if slugs is None:
        return None
    wanted = list(dict.fromkeys(slugs))
    tags = list(Tag.objects.filter(project=scope.project, slug__in=wanted))
    missing = sorted(set(wanted) - {tag.slug for tag in tags})
    if missing:
        raise ValidationFailed("tags", f"unknown tag(s): {', '.join(missing)}")
    return tags


def _owner_for(scope: ProjectScope, secret_type: str) -> object:
    if secret_type not in SecretType.values:
        raise ValidationFailed("type", "must be 'shared' or 'personal'")
    if secret_type == SecretType.PERSONAL:
        if scope.principal.kind != "user":
            raise ValidationFailed("type", "personal overrides belong to people, not machine identities")
        return scope.principal.user
    return None


def _live_secret_query(folder: Folder, key: str, secret_type: str, owner: Any) -> QuerySet[Secret]:
    query = Secret.objects.filter(folder=folder, key=key, type=secret_type, deleted_at__isnull=True)
    return query.filter(owner=owner) if owner is not None else query


def _apply_metadata(secret: Secret, item: SecretInput) -> None:
    if item.owner_label is not None:
        secret.owner_label = item.owner_label[:120]
    if item.purpose is not None:
        secret.purpose = item.purpose[:500]
    if item.expires_at is not UNSET:
        secret.expires_at = item.expires_at  # type: ignore[assignment]


def _metadata_of(item: SecretInput) -> dict[str, Any]:
    """The non-secret metadata a change carries (for a held write to apply later)."""
    found: dict[str, Any] = {}
    if item.owner_label is not None:
        found["owner_label"] = item.owner_label
    if item.purpose is not None:
        found["purpose"] = item.purpose
    if item.expires_at is not UNSET:
        expires = item.expires_at
        found["expires_at"] = expires.isoformat() if isinstance(expires, datetime.datetime) else None
    return found


def _proposed(op: str, key: str, item: SecretInput, **extra: Any) -> ProposedChange:
    return ProposedChange(
        op=op,
        key=key,
        value=item.value,
        comment=item.comment,
        tags=tuple(item.tags) if item.tags is not None else None,
        metadata=_metadata_of(item),
        **extra,
    )


def _live_version(folder: Folder, key: str, secret_type: str, owner: Any) -> int:
    """The live secret's version (the base a held change is pinned to); NotFound when absent."""
    version = _live_secret_query(folder, key, secret_type, owner).values_list("version", flat=True).first()
    if version is None:
        raise NotFound(f"Secret '{key}' not found at {folder.path}")
    return version


def _gate(
    scope: ProjectScope, environment: Environment, folder: Folder, operation: str, changes: list[ProposedChange]
) -> None:
    """Ask the write gate (approvals) whether this write applies now. Personal overrides concern
    only their owner and are never held."""
    shared = tuple(change for change in changes if change.secret_type == SecretType.SHARED)
    write_gate_check(
        WriteIntent(scope=scope, environment=environment, folder=folder, operation=operation, changes=shared)
    )


def _audit_write(
    scope: ProjectScope, action: str, environment: Environment, folder: Folder, keys: list[str], **extra: object
) -> None:
    scope.audit(
        action,
        environment=environment.slug,
        path=folder.path,
        resource_type="secret",
        resource_id=keys[0] if len(keys) == 1 else "",
        metadata={"keys": keys[:500], "count": len(keys), **extra},
        # No savepoint: a refused audit row fails the write's transaction as a whole (nothing
        # below catches AuditWriteError), which is exactly fail closed.
        savepoint=False,
    )


def _remember_tags(secret: Secret, tags: list[Tag]) -> None:
    """A new row's tags are exactly *tags*: let ``secret.tags.all()`` (the response shapes) answer
    from them without reading them back, the way ``prefetch_related`` fills its cache. The cached
    query selects the same rows, so anything chained onto it stays right."""
    known = Tag.objects.filter(pk__in=[tag.pk for tag in tags])
    known._result_cache = list(tags)
    known._prefetch_done = True  # type: ignore[attr-defined]
    secret._prefetched_objects_cache = {"tags": known}  # type: ignore[attr-defined]


def _create_locked(
    scope: ProjectScope,
    environment: Environment,
    folder: Folder,
    item: SecretInput,
    key: str,
    secret_type: str,
    owner: Any,
    tags: list[Tag] | None,
) -> Secret:
    """Insert the secret at version 1 and its first version. Inside the caller's transaction, which
    a duplicate ends: the partial unique index on live keys refuses it (Conflict), and the
    transaction is rolled back as the Conflict leaves it, so no savepoint is needed."""
    value = encode_secret_value(item.value if item.value is not None else "")
    comment = encode_secret_value(item.comment, field="comment") if item.comment else None
    secret = Secret(
        project=scope.project,
        environment=environment,
        folder=folder,
        key=key,
        type=secret_type,
        owner=owner,
        version=1,
        created_by=scope.principal.user if scope.principal.kind == "user" else None,
    )
    _apply_metadata(secret, item)
    try:
        secret.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            f"A secret named '{key}' already exists at {folder.path}", fields={"key": ["already exists"]}
        ) from None
    if tags:
        secret.tags.add(*tags)
    _remember_tags(secret, tags or [])
    version_first_write(secret=secret, value=value, comment=comment, principal=scope.principal)
    return secret


def secret_create(
    *, scope: ProjectScope, environment: str, path: str, item: SecretInput, secret_type: str = SecretType.SHARED
) -> Secret:
    """Create a secret at version 1. Raises Conflict (409) when a live secret has the key: checked
    before the write gate (a duplicate is refused, not held for approval), and by the unique index
    for a create that races it."""
    key = validate_secret_key(item.key)
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.create", environment=env.slug, path=folder.path, tags=item.tags or (), resource=key)
    owner = _owner_for(scope, secret_type)
    tags = _tags_for(scope, item.tags)
    if _live_secret_query(folder, key, secret_type, owner).exists():
        raise Conflict(f"A secret named '{key}' already exists at {folder.path}", fields={"key": ["already exists"]})
    _gate(scope, env, folder, "secret.created", [_proposed(ChangeOp.CREATE, key, item, secret_type=secret_type)])
    with transaction.atomic():
        secret = _create_locked(scope, env, folder, item, key, secret_type, owner, tags)
        folder_commit_record(
            folder=folder, message=f"create {key}", principal=scope.principal, changes={secret.pk: 1}, live_change=1
        )
        _audit_write(scope, "secret.created", env, folder, [key], type=secret_type, version=1)
        announce_secret_change(
            project_id=scope.project.pk,
            environment_id=env.pk,
            folder_id=folder.pk,
            access_epoch=scope.principal.access_epoch,
        )
    return secret


def _tags_of_live(folder: Folder, keys: Sequence[str], secret_type: str, owner: Any) -> dict[str, list[str]]:
    """Current tags of live secrets by key (read before the write transaction, for permission checks)."""
    query = Secret.objects.filter(folder=folder, key__in=keys, type=secret_type, deleted_at__isnull=True)
    if owner is not None:
        query = query.filter(owner=owner)
    found: dict[str, list[str]] = {}
    for secret in query.prefetch_related("tags"):
        found[secret.key] = [tag.slug for tag in secret.tags.all()]
    return found


def _lock_secret(folder: Folder, key: str, secret_type: str, owner: Any) -> Secret:
    secret = _live_secret_query(folder, key, secret_type, owner).select_for_update().first()
    if secret is None:
        raise NotFound(f"Secret '{key}' not found at {folder.path}")
    secret.folder = folder  # already loaded (with its environment): spare response shapes the queries
    return secret


def _update_locked(
    scope: ProjectScope, secret: Secret, item: SecretInput, tags: list[Tag] | None, new_key: str | None
) -> bool:
    """Apply *item* to a locked secret; returns True when a new version was written."""
    changed_version = False
    if new_key is not None and new_key != secret.key:
        if _live_secret_query(secret.folder, new_key, secret.type, secret.owner).exists():
            raise Conflict(
                f"A secret named '{new_key}' already exists at {secret.folder.path}",
                fields={"newKey": ["already exists"]},
            )
        secret.key = new_key
    _apply_metadata(secret, item)
    secret.save()
    if tags is not None:
        secret.tags.set(tags)
    if item.value is not None or item.comment is not None:
        from secrets_app.selectors.secrets import current_plaintext

        old_value, old_comment = current_plaintext(secret)
        value = encode_secret_value(item.value) if item.value is not None else old_value
        comment = encode_secret_value(item.comment, field="comment") if item.comment is not None else old_comment
        if value != old_value or (comment or None) != (old_comment or None):
            version_write(
                secret=secret, value=value, comment=comment or None, change="updated", principal=scope.principal
            )
            secret.last_rotated_at = timezone.now() if value != old_value else secret.last_rotated_at
            secret.save(update_fields=["last_rotated_at", "updated_at"])
            changed_version = True
    return changed_version


def _update_message(
    key: str, secret: Secret, before: tuple[str, str, Any], old_tags: list[str], item: SecretInput
) -> str:
    """The commit message of an update: ``update KEY``, then what changed besides value and comment
    (the history tells those from the versions): a rename, tags added/removed, metadata fields."""
    details = []
    if secret.key != key:
        details.append(f"renamed {key} → {secret.key}")
    if item.tags is not None and set(item.tags) != set(old_tags):
        added = [f"+{tag}" for tag in sorted(set(item.tags) - set(old_tags))]
        details.append("tags " + " ".join(added + [f"−{tag}" for tag in sorted(set(old_tags) - set(item.tags))]))
    now = (secret.owner_label, secret.purpose, secret.expires_at)
    changed = [name for name, old, new in zip(("owner", "purpose", "expiry"), before, now, strict=True) if old != new]
    if changed:
        details.append(", ".join(changed) + " changed")
    return f"update {key}" + (": " + "; ".join(details) if details else "")


def _refuse_retag_that_widens_access(
    scope: ProjectScope, environment: Environment, folder: Folder, key: str, current: Sequence[str], new: Sequence[str]
) -> None:
    """Tag rules follow tags, so retagging could lift a secret out from under a deny (drop the
    'break-glass' tag that hides its value). Whatever the caller could do with the new tags it must
    already be allowed with the current ones."""
    for action in ACTIONS:
        if action.startswith("secrets.") and scope.access.can(
            action, environment=environment.slug, path=folder.path, tags=new
        ):
            require(scope, action, environment=environment.slug, path=folder.path, tags=current, resource=key)


def secret_update(
    *,
    scope: ProjectScope,
    environment: str,
    path: str,
    key: str,
    item: SecretInput,
    new_key: str | None = None,
    secret_type: str = SecretType.SHARED,
    expected_version: int | None = None,
) -> Secret:
    """Update value, comment, key, tags or metadata. With *expected_version* the write is a
    check-and-set: a stale version raises PreconditionFailed (412) and nothing changes."""
    key = validate_secret_key(key)
    renamed = validate_secret_key(new_key, field="newKey") if new_key else None
    env, folder = folder_get(scope, environment, path)
    owner = _owner_for(scope, secret_type)
    tags = _tags_for(scope, item.tags)
    current_tags = _tags_of_live(folder, [key], secret_type, owner).get(key, [])
    require(scope, "secrets.edit", environment=env.slug, path=folder.path, tags=current_tags, resource=key)
    if item.tags is not None:
        require(scope, "secrets.edit", environment=env.slug, path=folder.path, tags=item.tags, resource=key)
        _refuse_retag_that_widens_access(scope, env, folder, key, current_tags, item.tags)
    base_version = _live_version(folder, key, secret_type, owner)
    if expected_version is not None and expected_version != base_version:
        raise PreconditionFailed(
            f"Secret '{key}' is at version {base_version}, not {expected_version}", fields={"version": ["stale"]}
        )
    _gate(
        scope,
        env,
        folder,
        "secret.updated",
        [_proposed(ChangeOp.UPDATE, key, item, new_key=renamed, secret_type=secret_type, base_version=base_version)],
    )
    with transaction.atomic():
        secret = _lock_secret(folder, key, secret_type, owner)
        if expected_version is not None and expected_version != secret.version:
            raise PreconditionFailed(
                f"Secret '{key}' is at version {secret.version}, not {expected_version}", fields={"version": ["stale"]}
            )
        before = (secret.owner_label, secret.purpose, secret.expires_at)
        _update_locked(scope, secret, item, tags, renamed)
        folder_commit_record(
            folder=folder,
            message=_update_message(key, secret, before, current_tags, item),
            principal=scope.principal,
            changes={secret.pk: secret.version},
        )
        _audit_write(
            scope,
            "secret.updated",
            env,
            folder,
            [secret.key],
            version=secret.version,
            renamed_from=key if renamed else None,
        )
        announce_secret_change(
            project_id=scope.project.pk,
            environment_id=env.pk,
            folder_id=folder.pk,
            access_epoch=scope.principal.access_epoch,
        )
    return secret


def secret_delete(
    *, scope: ProjectScope, environment: str, path: str, key: str, secret_type: str = SecretType.SHARED
) -> Secret:
    """Soft-delete: the secret leaves listings, and a folder rollback can bring it back."""
    key = validate_secret_key(key)
    env, folder = folder_get(scope, environment, path)
    owner = _owner_for(scope, secret_type)
    current_tags = _tags_of_live(folder, [key], secret_type, owner).get(key, [])
    require(scope, "secrets.delete", environment=env.slug, path=folder.path, tags=current_tags, resource=key)
    base_version = _live_version(folder, key, secret_type, owner)
    _gate(
        scope,
        env,
        folder,
        "secret.deleted",
        [ProposedChange(op=ChangeOp.DELETE, key=key, secret_type=secret_type, base_version=base_version)],
    )
    with transaction.atomic():
        secret = _lock_secret(folder, key, secret_type, owner)
        secret.deleted_at = timezone.now()
        secret.save(update_fields=["deleted_at", "updated_at"])
        folder_commit_record(
            folder=folder, message=f"delete {key}", principal=scope.principal, changes={secret.pk: None}, live_change=-1
        )
        _audit_write(scope, "secret.deleted", env, folder, [key], version=secret.version)
        announce_secret_change(
            project_id=scope.project.pk,
            environment_id=env.pk,
            folder_id=folder.pk,
            access_epoch=scope.principal.access_epoch,
        )
    return secret


def secret_bulk_upsert(*, scope: ProjectScope, environment: str, path: str, items: Sequence[SecretInput]) -> BulkResult:
    """Create missing keys and update existing ones in one transaction and one folder commit.
    All-or-nothing: any invalid item or refused permission changes nothing."""
    if not items:
        raise ValidationFailed("secrets", "must contain at least one secret")
    if len(items) > MAX_BULK_ITEMS:
        raise ValidationFailed("secrets", f"must contain at most {MAX_BULK_ITEMS} secrets")
    keys = [validate_secret_key(item.key, field=f"secrets[{index}].key") for index, item in enumerate(items)]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("secrets", "contains the same key more than once")
    for index, item in enumerate(items):
        if item.value is not None:
            encode_secret_value(item.value, field=f"secrets[{index}].value")
    env, folder = folder_get(scope, environment, path)
    existing_tags = _tags_of_live(folder, keys, SecretType.SHARED, None)
    for key, item in zip(keys, items, strict=True):
        action = "secrets.edit" if key in existing_tags else "secrets.create"
        # A new key is checked with the tags it will carry (as secret_create does), an existing one with its current tags.
        tags = existing_tags[key] if key in existing_tags else (item.tags or [])
        require(scope, action, environment=env.slug, path=folder.path, tags=tags, resource=key)
        if item.tags:
            require(scope, action, environment=env.slug, path=folder.path, tags=item.tags, resource=key)
        if item.tags is not None and key in existing_tags:
            _refuse_retag_that_widens_access(scope, env, folder, key, existing_tags[key], item.tags)
    tag_sets = [_tags_for(scope, item.tags) for item in items]
    versions = dict(
        Secret.objects.filter(folder=folder, key__in=keys, type=SecretType.SHARED, deleted_at__isnull=True).values_list(
            "key", "version"
        )
    )
    _gate(
        scope,
        env,
        folder,
        "secret.bulk_upserted",
        [
            _proposed(ChangeOp.UPDATE, key, item, base_version=versions[key])
            if key in versions
            else _proposed(ChangeOp.CREATE, key, item)
            for key, item in zip(keys, items, strict=True)
        ],
    )
    result = BulkResult()
    changes: dict[int, int | None] = {}
    with transaction.atomic():
        existing = {
            secret.key: secret
            for secret in Secret.objects.select_for_update().filter(
                folder=folder, key__in=keys, type=SecretType.SHARED, deleted_at__isnull=True
            )
        }
        for key, item, tag_rows in zip(keys, items, tag_sets, strict=True):
            if key in existing:
                if _update_locked(scope, existing[key], item, tag_rows, None):
                    result.updated.append(key)
                    changes[existing[key].pk] = existing[key].version
                else:
                    result.unchanged.append(key)
            else:
                created = _create_locked(scope, env, folder, item, key, SecretType.SHARED, None, tag_rows)
                result.created.append(key)
                changes[created.pk] = created.version
        folder_commit_record(
            folder=folder,
            message=f"bulk upsert of {len(keys)} secrets",
            principal=scope.principal,
            changes=changes,
            live_change=len(result.created),
        )
        _audit_write(
            scope, "secret.bulk_upserted", env, folder, keys, created=len(result.created), updated=len(result.updated)
        )
        announce_secret_change(
            project_id=scope.project.pk,
            environment_id=env.pk,
            folder_id=folder.pk,
            access_epoch=scope.principal.access_epoch,
        )
    return result

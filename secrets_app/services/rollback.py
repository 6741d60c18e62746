"""Point-in-time recovery: a secret back to an old version, a folder back to an old commit."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from secrets_app.crypto.secret_fields import version_plaintext
from secrets_app.errors import Conflict, NotFound
from secrets_app.events import announce_secret_change
from secrets_app.models import FolderCommit, Secret, SecretType, SecretVersion
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.commits import folder_commit_number, folder_commit_state
from secrets_app.selectors.tree import folder_get
from secrets_app.services.integrity import audits_integrity_failures
from secrets_app.services.versions import folder_commit_record, version_write
from secrets_app.validation import secret_key_for_lookup
from secrets_app.write_gate import ChangeOp, ProposedChange, WriteIntent, write_gate_check


def _restore_version(scope: ProjectScope, secret: Secret, version: int) -> None:
    """Append a new version whose value and comment equal *version*'s (history is never rewritten)."""
    row = SecretVersion.objects.filter(secret=secret, version=version).first()
    if row is None:
        raise NotFound(f"Secret '{secret.key}' has no version {version}")
    value, comment = version_plaintext(secret, row)
    version_write(
        secret=secret, value=value, comment=comment, change=f"rolled back to v{version}", principal=scope.principal
    )


@audits_integrity_failures
def secret_rollback(*, scope: ProjectScope, environment: str, path: str, key: str, version: int) -> Secret:
    key = secret_key_for_lookup(key)
    env, folder = folder_get(scope, environment, path)
    current = Secret.objects.filter(folder=folder, key=key, type=SecretType.SHARED, deleted_at__isnull=True).first()
    tags = [tag.slug for tag in current.tags.all()] if current is not None else []
    require(scope, "secrets.rollback", environment=env.slug, path=folder.path, tags=tags, resource=key)
    if current is None:
        raise NotFound(f"Secret '{key}' not found at {folder.path}")
    if not SecretVersion.objects.filter(secret=current, version=version).exists():
        raise NotFound(f"Secret '{key}' has no version {version}")
    write_gate_check(
        WriteIntent(
            scope=scope,
            environment=env,
            folder=folder,
            operation="secret.rolled_back",
            changes=(
                ProposedChange(
                    op=ChangeOp.ROLLBACK_SECRET, key=key, base_version=current.version, target_version=version
                ),
            ),
        )
    )
    with transaction.atomic():
        secret = (
            Secret.objects.select_for_update()
            .filter(folder=folder, key=key, type=SecretType.SHARED, deleted_at__isnull=True)
            .first()
        )
        if secret is None:
            raise NotFound(f"Secret '{key}' not found at {folder.path}")
        _restore_version(scope, secret, version)
        folder_commit_record(
            folder=folder,
            message=f"roll back {key} to v{version}",
            principal=scope.principal,
            changes={secret.pk: secret.version},
        )
        scope.audit(
            "secret.rolled_back",
            environment=env.slug,
            path=folder.path,
            resource_type="secret",
            resource_id=key,
            metadata={"to_version": version, "new_version": secret.version},
        )
        announce_secret_change(project_id=scope.project.pk, environment_id=env.pk, folder_id=folder.pk)
    return secret


@audits_integrity_failures
def folder_rollback(*, scope: ProjectScope, environment: str, path: str, commit_id: int) -> FolderCommit:
    """Make the folder's live secrets equal the commit's snapshot: changed ones get a new version
    with the old value, deleted ones come back, ones created since are deleted."""
    env, folder = folder_get(scope, environment, path)
    commit = FolderCommit.objects.filter(folder=folder, pk=commit_id).first()
    if commit is None:
        raise NotFound("Commit not found in this folder")
    require(scope, "secrets.rollback", environment=env.slug, path=folder.path)
    target = folder_commit_state(commit)
    # Each secret the rollback would change is checked with its tags (a tag-limited deny holds), before
    # the transaction, so the refusal's audit row is committed.
    for secret in Secret.objects.filter(
        Q(deleted_at__isnull=True) | Q(pk__in=list(target)), folder=folder
    ).prefetch_related("tags"):
        changes = (
            secret.deleted_at is None
            if secret.pk not in target
            else secret.deleted_at is not None or secret.version != target[secret.pk]
        )
        if changes:
            tags = [tag.slug for tag in secret.tags.all()]
            require(scope, "secrets.rollback", environment=env.slug, path=folder.path, tags=tags, resource=secret.key)
    newest = FolderCommit.objects.filter(folder=folder).order_by("-pk").values_list("pk", flat=True).first()
    write_gate_check(
        WriteIntent(
            scope=scope,
            environment=env,
            folder=folder,
            operation="folder.rolled_back",
            changes=(ProposedChange(op=ChangeOp.ROLLBACK_FOLDER, commit_id=commit.pk, base_commit_id=newest),),
        )
    )
    with transaction.atomic():
        secrets = {
            secret.pk: secret
            for secret in Secret.objects.select_for_update().filter(folder=folder).filter(pk__in=list(target))
        }
        live = {
            secret.pk: secret
            for secret in Secret.objects.select_for_update().filter(folder=folder, deleted_at__isnull=True)
        }
        restored, reverted, removed = [], [], []
        touched: dict[int, int | None] = {}
        for secret_id, newer in live.items():
            if secret_id not in target:
                newer.deleted_at = timezone.now()
                newer.save(update_fields=["deleted_at", "updated_at"])
                removed.append(newer.key)
                touched[secret_id] = None
        for secret_id, version in target.items():
            found = secrets.get(secret_id)
            if found is None:
                continue
            secret = found
            if secret.deleted_at is not None:
                clash = Secret.objects.filter(
                    folder=folder, key=secret.key, type=secret.type, owner=secret.owner, deleted_at__isnull=True
                ).exclude(pk=secret.pk)
                if clash.exists():
                    raise Conflict(f"Cannot restore '{secret.key}': a newer secret with that key exists")
                secret.deleted_at = None
                secret.save(update_fields=["deleted_at", "updated_at"])
                restored.append(secret.key)
                touched[secret_id] = secret.version
            if secret.version != version:
                _restore_version(scope, secret, version)
                reverted.append(secret.key)
                touched[secret_id] = secret.version
        new_commit = folder_commit_record(
            folder=folder,
            # "#n" as the web history numbers the folder's commits; the id is what the API names
            message=f"roll back to #{folder_commit_number(commit)} (commit id {commit.pk})",
            principal=scope.principal,
            changes=touched,
            live_change=len(restored) - len(removed),
        )
        scope.audit(
            "folder.rolled_back",
            environment=env.slug,
            path=folder.path,
            resource_type="commit",
            resource_id=str(commit.pk),
            metadata={"restored": restored[:200], "reverted": reverted[:200], "removed": removed[:200]},
        )
        announce_secret_change(project_id=scope.project.pk, environment_id=env.pk, folder_id=folder.pk)
    return new_commit

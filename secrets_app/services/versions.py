"""Writing secret versions and folder commits (point-in-time recovery). Internal to services."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import connection

from secrets_app.crypto.envelope import DecryptionError
from secrets_app.keyring import keyring, secret_field_aad
from secrets_app.models import Folder, FolderCommit, FolderCommitHead, Secret, SecretVersion
from secrets_app.principals import Principal
from secrets_app.services.integrity import SecretIntegrityError

# A checkpoint (the folder's whole state) every this many commits of a folder, so rebuilding a
# commit's state reads one snapshot and at most this many deltas. settings.FOLDER_COMMIT_CHECKPOINT_EVERY
# overrides it.
CHECKPOINT_EVERY = 500

# One statement that locks the folder's head row (inserting it on the folder's first commit) and
# returns the commit count and running live count including this commit. An UPDATE that waited for
# another writer's lock sees that writer's committed row (PostgreSQL re-reads it), so counts never
# go backwards. Plain SQL: the ORM has no upsert that returns the updated row.
_ADVANCE_HEAD = (
    "INSERT INTO {head} (folder_id, commits, live_count) VALUES (%s, 1, %s) "
    "ON CONFLICT (folder_id) DO UPDATE SET commits = {head}.commits + 1, "
    "live_count = {head}.live_count + excluded.live_count "
    "RETURNING commits, live_count"
)


def encrypt_field(secret: Secret, version: int, field: str, plaintext: bytes) -> bytes:
    aad = secret_field_aad(
        project_id=secret.project_id,
        environment_id=secret.environment_id,
        secret_id=secret.pk,
        version=version,
        field=field,
    )
    return keyring.encrypt_for_project(secret.project_id, plaintext, aad)


def decrypt_field(secret: Secret, version: int, field: str, ciphertext: bytes | memoryview) -> bytes:
    aad = secret_field_aad(
        project_id=secret.project_id,
        environment_id=secret.environment_id,
        secret_id=secret.pk,
        version=version,
        field=field,
    )
    try:
        return keyring.decrypt_for_project(bytes(ciphertext), aad)
    except DecryptionError:
        # Named by place only: the failing bytes and the key stay out of the exception.
        raise SecretIntegrityError(secret=secret, version=version, field=field) from None


def _version_row(
    *, secret: Secret, number: int, value: bytes, comment: bytes | None, change: str, principal: Principal | None
) -> SecretVersion:
    return SecretVersion.objects.create(
        secret=secret,
        version=number,
        value_ciphertext=encrypt_field(secret, number, "value", value),
        comment_ciphertext=encrypt_field(secret, number, "comment", comment) if comment else None,
        change=change,
        created_by=principal.user if principal and principal.kind == "user" else None,
        actor_label=principal.label if principal else "system",
    )


def version_write(
    *, secret: Secret, value: bytes, comment: bytes | None, change: str, principal: Principal | None
) -> SecretVersion:
    """Append the next version. The caller holds the secret's row lock (select_for_update) so
    concurrent writers get contiguous version numbers."""
    number = secret.version + 1
    row = _version_row(secret=secret, number=number, value=value, comment=comment, change=change, principal=principal)
    secret.version = number
    secret.save(update_fields=["version", "updated_at"])
    return row


def version_first_write(*, secret: Secret, value: bytes, comment: bytes | None, principal: Principal | None) -> None:
    """Write version 1 of a secret just inserted with ``version=1`` (no UPDATE of the secret row:
    inside the creating transaction nobody else sees it without its version)."""
    _version_row(secret=secret, number=1, value=value, comment=comment, change="created", principal=principal)


def version_plaintext(secret: Secret, version: SecretVersion) -> tuple[bytes, bytes | None]:
    value = decrypt_field(secret, version.version, "value", version.value_ciphertext)
    comment = (
        decrypt_field(secret, version.version, "comment", version.comment_ciphertext)
        if version.comment_ciphertext
        else None
    )
    return value, comment


def _checkpoint_every() -> int:
    return max(1, int(getattr(settings, "FOLDER_COMMIT_CHECKPOINT_EVERY", CHECKPOINT_EVERY)))


def folder_commit_record(
    *,
    folder: Folder,
    message: str,
    principal: Principal | None,
    changes: Mapping[int, int | None],
    live_change: int = 0,
) -> FolderCommit:
    """Record a change to *folder*: *changes* maps each secret id it touched to its new version
    (``None``: deleted), *live_change* is how many live secrets it added (negative: removed).

    Must run inside the writer's transaction, after its writes: advancing the folder's head row
    takes a lock held until the transaction ends, so one folder's commits get ids in the order they
    commit and a checkpoint (every ``FOLDER_COMMIT_CHECKPOINT_EVERY``-th commit, and the first of a
    folder) snapshots exactly what the commits before it left. Two statements (three on a
    checkpoint), whatever the folder's size except on checkpoints."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ADVANCE_HEAD.format(head=connection.ops.quote_name(FolderCommitHead._meta.db_table)),
            [folder.pk, live_change],
        )
        commits, live_count = cursor.fetchone()
    state: dict[str, int] | None = None
    if (commits - 1) % _checkpoint_every() == 0:
        state = {
            str(secret_id): version
            for secret_id, version in Secret.objects.filter(folder=folder, deleted_at__isnull=True).values_list(
                "id", "version"
            )
        }
        if live_count != len(state):
            # The head's running sum starts from zero in a folder that had secrets before its first
            # commit of this scheme; the checkpoint counts them.
            live_count = len(state)
            FolderCommitHead.objects.filter(folder=folder).update(live_count=live_count)
    return FolderCommit.objects.create(
        folder=folder,
        state=state,
        changes={str(secret_id): version for secret_id, version in changes.items()},
        live_count=max(live_count, 0),
        message=message[:500],
        actor_label=principal.label if principal else "system",
    )

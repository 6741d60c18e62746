"""Writing secret versions and folder commits (point-in-time snapshots). Internal to services."""

from __future__ import annotations

from typing import Any

from secrets_app.crypto.envelope import DecryptionError
from secrets_app.keyring import keyring, secret_field_aad
from secrets_app.models import Folder, FolderCommit, Secret, SecretVersion
from secrets_app.principals import Principal
from secrets_app.services.integrity import SecretIntegrityError


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


def version_write(
    *, secret: Secret, value: bytes, comment: bytes | None, change: str, principal: Principal | None
) -> SecretVersion:
    """Append the next version. The caller holds the secret's row lock (select_for_update) so
    concurrent writers get contiguous version numbers."""
    number = secret.version + 1
    row = SecretVersion.objects.create(
        secret=secret,
        version=number,
        value_ciphertext=encrypt_field(secret, number, "value", value),
        comment_ciphertext=encrypt_field(secret, number, "comment", comment) if comment else None,
        change=change,
        created_by=principal.user if principal and principal.kind == "user" else None,
        actor_label=principal.label if principal else "system",
    )
    secret.version = number
    secret.save(update_fields=["version", "updated_at"])
    return row


def version_plaintext(secret: Secret, version: SecretVersion) -> tuple[bytes, bytes | None]:
    value = decrypt_field(secret, version.version, "value", version.value_ciphertext)
    comment = (
        decrypt_field(secret, version.version, "comment", version.comment_ciphertext)
        if version.comment_ciphertext
        else None
    )
    return value, comment


def folder_commit_record(*, folder: Folder, message: str, principal: Principal | None) -> FolderCommit:
    """Snapshot the folder's live secrets (id → version) after a change."""
    state: dict[str, Any] = {
        str(secret_id): version
        for secret_id, version in Secret.objects.filter(folder=folder, deleted_at__isnull=True).values_list(
            "id", "version"
        )
    }
    return FolderCommit.objects.create(
        folder=folder, state=state, message=message[:500], actor_label=principal.label if principal else "system"
    )

"""Root key rotation: re-wrap data keys only (O(projects)), in one transaction."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import SYSTEM_ACTOR, audit_record
from secrets_app.crypto import envelope
from secrets_app.crypto.bindings import ROOT_KEY_CHECK_AAD, data_key_aad, secret_field_aad
from secrets_app.keyring import _CHECK_PLAINTEXT, keyring
from secrets_app.models import DataKey, RootKeyCheck


@dataclass
class RotationResult:
    data_keys: int
    key_id: int
    generated_key: str | None


def root_key_rotate(*, new_key_text: str | None = None, write_embedded: bool = False) -> RotationResult:
    """Re-wrap every data key and the key check under a new root key. Raises SealedError when the
    current key is not usable, ValueError for a malformed new key."""
    old = keyring.root()
    new_raw = envelope.parse_root_key(new_key_text) if new_key_text else envelope.new_key()
    new_id = envelope.fingerprint(new_raw)
    with transaction.atomic():
        data_keys = list(DataKey.objects.select_for_update().order_by("id"))
        for data_key in data_keys:
            aad = data_key_aad(project_id=data_key.project_id, version=data_key.version)
            raw = envelope.decrypt(old.key, bytes(data_key.wrapped_key), aad)
            data_key.wrapped_key = envelope.encrypt(new_raw, new_id, raw, aad)
            data_key.root_key_id = new_id
            data_key.save(update_fields=["wrapped_key", "root_key_id"])
        check = RootKeyCheck.objects.select_for_update().order_by("id").first()
        if check is not None:
            check.check_ciphertext = envelope.encrypt(new_raw, new_id, _CHECK_PLAINTEXT, ROOT_KEY_CHECK_AAD)
            check.root_key_id = new_id
            check.rotated_at = timezone.now()
            check.save(update_fields=["check_ciphertext", "root_key_id", "rotated_at"])
        audit_record(
            action="root_key.rotated",
            actor=SYSTEM_ACTOR,
            resource_type="root_key",
            resource_id=f"{new_id:08x}",
            metadata={"data_keys": len(data_keys)},
        )
    encoded = envelope.encode_root_key(new_raw)
    if write_embedded:
        path = settings.STRONGROOM_EMBEDDED_ROOT_KEY_PATH
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(encoded)
        os.replace(tmp, path)
    keyring.reset()
    return RotationResult(data_keys=len(data_keys), key_id=new_id, generated_key=None if new_key_text else encoded)


# --- data keys ------------------------------------------------------------------------------------


def data_key_rotate(*, project_id: int) -> DataKey:
    """Add a new data key version for the project: new writes use it at once; existing
    ciphertexts move to it in the background (``data_key_reencrypt``)."""
    from secrets_app.models import Project

    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project_id)
        data_key = keyring.create_data_key(project)
        audit_record(
            action="data_key.rotated",
            actor=SYSTEM_ACTOR,
            organization_id=project.organization_id,
            project_id=project.pk,
            resource_type="data_key",
            resource_id=str(data_key.version),
        )
    return data_key


def data_key_reencrypt(*, project_id: int, batch_size: int | None = None) -> int:
    """Re-encrypt up to *batch_size* (``STRONGROOM_DATA_KEY_REENCRYPT_BATCH``, 500) secret versions
    of the project that are not under its newest data key, in one transaction. Idempotent (rows
    already moved are skipped). Returns how many rows it moved."""
    batch_size = batch_size or settings.STRONGROOM_DATA_KEY_REENCRYPT_BATCH
    from secrets_app.crypto import envelope as env
    from secrets_app.models import SecretVersion

    current = DataKey.objects.filter(project_id=project_id).order_by("-version").first()
    if current is None:
        return 0
    moved = 0
    with transaction.atomic():
        rows = (
            SecretVersion.objects.select_for_update(skip_locked=True)
            .filter(secret__project_id=project_id)
            .select_related("secret")
            .order_by("id")
        )
        for row in rows.iterator(chunk_size=200):
            if moved >= batch_size:
                break
            changed = False
            for field in ("value", "comment"):
                ciphertext = getattr(row, f"{field}_ciphertext")
                if not ciphertext or env.key_id_of(bytes(ciphertext)) == current.pk:
                    continue
                aad = secret_field_aad(
                    project_id=project_id,
                    environment_id=row.secret.environment_id,
                    secret_id=row.secret_id,
                    version=row.version,
                    field=field,
                )
                plaintext = keyring.decrypt_for_project(bytes(ciphertext), aad)
                setattr(row, f"{field}_ciphertext", keyring.encrypt_for_project(project_id, plaintext, aad))
                changed = True
            if changed:
                row.save(update_fields=["value_ciphertext", "comment_ciphertext"])
                moved += 1
    return moved


def data_key_reencrypt_pending() -> list[int]:
    """Projects that still hold secret versions under an older data key: a re-encryption that was
    never queued or whose message was lost (e.g. ``rotate_data_keys`` while the broker was down).
    Beat re-queues them (``data_key_reencrypt`` is idempotent), so correctness never depends on
    that one message. Only versions written before the newest key can be behind it."""
    from secrets_app.models import SecretVersion

    pending: list[int] = []
    newest_keys = (
        DataKey.objects.filter(project__isnull=False).order_by("project_id", "-version").distinct("project_id")
        if _is_postgres()
        else _newest_keys()
    )
    for data_key in newest_keys:
        if data_key.version == 1 or data_key.project_id is None:
            continue
        older = SecretVersion.objects.filter(
            # A write that took the old key just before the rotation may commit a moment after it.
            secret__project_id=data_key.project_id,
            created_at__lte=data_key.created_at + timedelta(minutes=10),
        )
        if _is_postgres():
            # The key id is bytes 2..5 of every ciphertext (format byte, then the big-endian id).
            older = older.extra(  # noqa: S610 - no caller input; the id is an integer from our table
                where=["substring(value_ciphertext from 2 for 4) <> int4send(%s::int4)"], params=[data_key.pk]
            )
            behind = older.exists()
        else:
            behind = any(
                envelope.key_id_of(bytes(ciphertext)) != data_key.pk
                for ciphertext in older.values_list("value_ciphertext", flat=True).iterator()
                if ciphertext
            )
        if behind:
            pending.append(data_key.project_id)
    return pending


def data_key_usage_check(*, max_encryptions: int) -> list[int]:
    """Estimate encryptions per newest data key (two per version: value and comment, an upper
    bound) and rotate keys past *max_encryptions* (GCM with random nonces: stay far below 2^32).
    Runs from beat, off the request path. Returns the projects whose key was rotated."""
    from django.db.models import Count, Q

    from secrets_app.models import SecretVersion

    rotated: list[int] = []
    for data_key in (
        DataKey.objects.filter(project__isnull=False).order_by("project_id", "-version").distinct("project_id")
        if _is_postgres()
        else _newest_keys()
    ):
        count = (
            SecretVersion.objects.filter(
                Q(secret__project_id=data_key.project_id) & Q(created_at__gte=data_key.created_at)
            ).aggregate(n=Count("id"))["n"]
            * 2
        )
        DataKey.objects.filter(pk=data_key.pk).update(encryption_count=count)
        if count >= max_encryptions and data_key.project_id is not None:
            data_key_rotate(project_id=data_key.project_id)
            rotated.append(data_key.project_id)
    return rotated


def _is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def _newest_keys() -> list[DataKey]:
    newest: dict[int | None, DataKey] = {}
    for data_key in DataKey.objects.filter(project__isnull=False).order_by("project_id", "version"):
        newest[data_key.project_id] = data_key
    return list(newest.values())

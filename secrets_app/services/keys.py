"""Root key rotation: re-wrap data keys only (O(projects)), in one transaction."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import SYSTEM_ACTOR, audit_record
from secrets_app.crypto import envelope
from secrets_app.keyring import _CHECK_AAD, _CHECK_PLAINTEXT, keyring
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
            aad = f"data-key|{data_key.project_id}|{data_key.version}".encode()
            raw = envelope.decrypt(old.key, bytes(data_key.wrapped_key), aad)
            data_key.wrapped_key = envelope.encrypt(new_raw, new_id, raw, aad)
            data_key.root_key_id = new_id
            data_key.save(update_fields=["wrapped_key", "root_key_id"])
        check = RootKeyCheck.objects.select_for_update().order_by("id").first()
        if check is not None:
            check.check_ciphertext = envelope.encrypt(new_raw, new_id, _CHECK_PLAINTEXT, _CHECK_AAD)
            check.root_key_id = new_id
            check.rotated_at = timezone.now()
            check.save(update_fields=["check_ciphertext", "root_key_id", "rotated_at"])
        audit_record(action="root_key.rotated", actor=SYSTEM_ACTOR, resource_type="root_key", resource_id=f"{new_id:08x}", metadata={"data_keys": len(data_keys)})
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

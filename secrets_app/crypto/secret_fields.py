"""Sealing a secret version's fields (``value``, ``comment``) with its project's data key.

The only place secret values are encrypted and opened: services call ``encrypt_field`` when they write a
version, selectors call ``decrypt_field`` when a reader is allowed the value. The AAD pins the ciphertext to its
project, environment, secret, version and field (``secrets_app/crypto/bindings.py::secret_field_aad``); a
ciphertext that fails to open raises ``SecretIntegrityError``, which names the place and never the bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secrets_app.crypto.bindings import secret_field_aad
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.keyring import keyring

if TYPE_CHECKING:
    from secrets_app.models import Secret, SecretVersion


class SecretIntegrityError(DecryptionError):
    """A secret's stored ciphertext did not authenticate. Names where, never what."""

    def __init__(self, *, secret: Secret, version: int, field: str) -> None:
        super().__init__("stored ciphertext failed its integrity check")
        self.secret = secret
        self.version = version
        self.field = field


def _aad(secret: Secret, version: int, field: str) -> bytes:
    return secret_field_aad(
        project_id=secret.project_id,
        environment_id=secret.environment_id,
        secret_id=secret.pk,
        version=version,
        field=field,
    )


def encrypt_field(secret: Secret, version: int, field: str, plaintext: bytes) -> bytes:
    """The ciphertext of ``plaintext`` as field ``field`` of version ``version`` of ``secret``."""
    return keyring.encrypt_for_project(secret.project_id, plaintext, _aad(secret, version, field))


def decrypt_field(secret: Secret, version: int, field: str, ciphertext: bytes | memoryview) -> bytes:
    """The plaintext. Raises ``SecretIntegrityError`` when the bytes do not open under this place's AAD."""
    try:
        return keyring.decrypt_for_project(bytes(ciphertext), _aad(secret, version, field))
    except DecryptionError:
        # Named by place only: the failing bytes and the key stay out of the exception.
        raise SecretIntegrityError(secret=secret, version=version, field=field) from None


def version_plaintext(secret: Secret, version: SecretVersion) -> tuple[bytes, bytes | None]:
    """A version's value and comment (``None`` when it has none)."""
    value = decrypt_field(secret, version.version, "value", version.value_ciphertext)
    comment = (
        decrypt_field(secret, version.version, "comment", version.comment_ciphertext)
        if version.comment_ciphertext
        else None
    )
    return value, comment

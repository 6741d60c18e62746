"""A rotation's root credentials, its pending password and an issued credential awaiting its
switch at rest: sealed with the keyring's system data key (as ``dynamic.sealing`` does), each
bound by AAD to the row that owns it (an issued credential also to its key id, so a sealed secret
cannot be passed off as another key's)."""

from __future__ import annotations

from collections.abc import Mapping

from dynamic.sealing import CredentialsUnavailable
from rotation.kinds.base import IssuedCredential
from rotation.models import PendingRotation, Rotation
from secrets_app.crypto.bindings import rotation_aad, rotation_issued_aad, rotation_pending_aad
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.keyring import keyring

__all__ = [
    "CredentialsUnavailable",
    "open_issued",
    "open_pending",
    "open_root",
    "seal_issued",
    "seal_pending",
    "seal_root",
]


def _seal(values: Mapping[str, str], aad: bytes) -> bytes:
    return keyring.seal_map_with_root(values, aad)


def _open(ciphertext: bytes | memoryview | None, aad: bytes, what: str) -> dict[str, str]:
    try:
        return keyring.open_map_with_root(ciphertext, aad)
    except DecryptionError:
        raise CredentialsUnavailable(f"the sealed credentials of {what} cannot be opened") from None


def _root_aad(rotation: Rotation) -> bytes:
    return rotation_aad(public_id=rotation.public_id, project_id=rotation.project_id, kind=rotation.kind)


def seal_root(rotation: Rotation, values: Mapping[str, str]) -> bytes:
    return _seal(values, _root_aad(rotation))


def open_root(rotation: Rotation) -> dict[str, str]:
    return _open(rotation.credentials_ciphertext, _root_aad(rotation), f"rotation {rotation.name}")


def _pending_aad(rotation: Rotation, pending: PendingRotation) -> bytes:
    return rotation_pending_aad(
        rotation_public_id=rotation.public_id, public_id=pending.public_id, user_index=pending.user_index
    )


def seal_pending(rotation: Rotation, pending: PendingRotation, password: str) -> bytes:
    return _seal({"password": password}, _pending_aad(rotation, pending))


def open_pending(rotation: Rotation, pending: PendingRotation) -> str:
    return _open(pending.password_ciphertext, _pending_aad(rotation, pending), f"rotation {rotation.name}")["password"]


def _issued_aad(rotation: Rotation, pending: PendingRotation, key_id: str) -> bytes:
    return rotation_issued_aad(rotation_public_id=rotation.public_id, public_id=pending.public_id, key_id=key_id)


def seal_issued(rotation: Rotation, pending: PendingRotation, credential: IssuedCredential) -> bytes:
    """The ciphertext for ``pending.password_ciphertext`` once the target issued *credential*."""
    values = {"key_id": credential.key_id, "secret": credential.secret, "expires_at": credential.expires_at}
    return _seal(values, _issued_aad(rotation, pending, credential.key_id))


def open_issued(rotation: Rotation, pending: PendingRotation) -> IssuedCredential:
    """The credential recorded in *pending* (whose ``key_id`` is set); CredentialsUnavailable when
    the ciphertext does not belong to this record and key."""
    values = _open(
        pending.password_ciphertext, _issued_aad(rotation, pending, pending.key_id), f"rotation {rotation.name}"
    )
    if values.get("key_id") != pending.key_id:
        raise CredentialsUnavailable(f"the sealed credentials of rotation {rotation.name} cannot be opened")
    return IssuedCredential(key_id=values["key_id"], secret=values["secret"], expires_at=values.get("expires_at", ""))

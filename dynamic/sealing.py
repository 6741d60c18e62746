"""Root credentials at rest: sealed with the keyring's system data key (itself wrapped by the root
key, so rotating the root key never strands them), bound by AAD to the row that owns them. A
dynamic secret's copy and each lease's snapshot are sealed separately, each to its own row."""

from __future__ import annotations

from collections.abc import Mapping

from dynamic.models import DynamicSecret, Lease
from secrets_app.crypto.bindings import dynamic_secret_aad, lease_aad
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.keyring import keyring


class CredentialsUnavailable(Exception):
    """Sealed credentials cannot be opened (moved, or the data key is gone). Safe to show."""


def _seal(values: Mapping[str, str], aad: bytes) -> bytes:
    return keyring.seal_map_with_root(values, aad)


def _open(ciphertext: bytes | memoryview | None, aad: bytes, what: str) -> dict[str, str]:
    try:
        return keyring.open_map_with_root(ciphertext, aad)
    except DecryptionError:
        raise CredentialsUnavailable(f"the root credentials of {what} cannot be opened; enter them again") from None


def _secret_aad(secret: DynamicSecret) -> bytes:
    return dynamic_secret_aad(public_id=secret.public_id, project_id=secret.project_id, provider=secret.provider)


def _lease_aad(lease: Lease) -> bytes:
    return lease_aad(public_id=lease.public_id, organization_id=lease.organization_id_snapshot, provider=lease.provider)


def seal_for_secret(secret: DynamicSecret, values: Mapping[str, str]) -> bytes:
    return _seal(values, _secret_aad(secret))


def open_for_secret(secret: DynamicSecret) -> dict[str, str]:
    return _open(secret.credentials_ciphertext, _secret_aad(secret), f"dynamic secret {secret.name}")


def seal_for_lease(lease: Lease, values: Mapping[str, str]) -> bytes:
    return _seal(values, _lease_aad(lease))


def open_for_lease(lease: Lease) -> dict[str, str]:
    return _open(lease.credentials_ciphertext, _lease_aad(lease), f"lease {lease.public_id}")

"""Comparing secret values without keeping them: "same value in both environments" (parity, the
``same_value`` risk flag) is decided on keyed digests made here, in memory, with a key that lives
only in this process. Neither a value nor a digest is ever stored, logged or returned: callers get
groups of secret ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets as random_source
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import F

from secrets_app.crypto.secret_fields import decrypt_field
from secrets_app.models import Secret, SecretVersion

# Per process: a digest means nothing outside it, and equal values in different processes are
# never compared with each other.
_DIGEST_KEY = random_source.token_bytes(32)


def value_digests(secret_ids: Iterable[int]) -> dict[int, bytes]:
    """secret id -> keyed digest of its current value, for the live secrets among *secret_ids*.
    Decrypts in memory; raises SecretIntegrityError (named by place, no bytes) on a bad ciphertext."""
    ids = list(secret_ids)
    if not ids:
        return {}
    secrets = {
        secret.pk: secret
        for secret in Secret.objects.filter(pk__in=ids, deleted_at__isnull=True).only(
            "id", "project_id", "environment_id", "version"
        )
    }
    digests: dict[int, bytes] = {}
    # Only each secret's current version: one indexed row per secret (uniq_secret_version).
    versions = SecretVersion.objects.filter(secret_id__in=list(secrets), version=F("secret__version")).values_list(
        "secret_id", "version", "value_ciphertext"
    )
    for secret_id, version, ciphertext in versions:
        secret = secrets[secret_id]
        plain = decrypt_field(secret, version, "value", ciphertext)
        digests[secret_id] = hmac.new(_DIGEST_KEY, plain, hashlib.sha256).digest()
    return digests


def equal_value_groups(secret_ids: Iterable[int]) -> list[set[int]]:
    """The groups (two or more) of secrets among *secret_ids* whose current values are equal."""
    by_digest: dict[bytes, set[int]] = defaultdict(set)
    for secret_id, digest in value_digests(secret_ids).items():
        by_digest[digest].add(secret_id)
    return [group for group in by_digest.values() if len(group) > 1]

"""Input rules for secret keys and values, shared by every interface."""

from __future__ import annotations

import unicodedata

from django.conf import settings

from secrets_app.errors import ValidationFailed

MAX_KEY_LENGTH = 256
_FORBIDDEN_KEY_CHARS = set("/:\\${}")


def validate_secret_key(raw: object, *, field: str = "key") -> str:
    """Return the NFC form of a key, or raise naming *field*. Two keys that differ only by
    normalisation are the same key (normalised before uniqueness and authorization)."""
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed(field, "is required")
    key = unicodedata.normalize("NFC", raw)
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(field, f"must be at most {MAX_KEY_LENGTH} characters")
    for char in key:
        category = unicodedata.category(char)
        if char.isspace() or category[0] in {"C", "Z"}:
            raise ValidationFailed(field, "must not contain whitespace, control or invisible characters")
        if char in _FORBIDDEN_KEY_CHARS:
            raise ValidationFailed(field, "must not contain '/', ':', '\\', '$', '{' or '}'")
    return key


def secret_key_for_lookup(raw: str) -> str:
    """The stored (NFC) form of a key a caller typed, for finding a secret: reads must treat the
    NFC and NFD spellings as the one key that writes treat them as."""
    return unicodedata.normalize("NFC", raw) if isinstance(raw, str) else raw


def encode_secret_value(raw: object, *, field: str = "value") -> bytes:
    """UTF-8 bytes of a value (kept byte for byte: no stripping or normalisation), size-checked."""
    if not isinstance(raw, str):
        raise ValidationFailed(field, "must be a string")
    try:
        encoded = raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(field, "must be valid Unicode text") from None
    limit = settings.STRONGROOM_MAX_SECRET_BYTES
    if len(encoded) > limit:
        raise ValidationFailed(field, f"must be at most {limit} bytes (UTF-8)")
    return encoded


def validate_slug(raw: object, *, field: str, max_length: int = 64) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed(field, "is required")
    import re

    if len(raw) > max_length or not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", raw):
        raise ValidationFailed(field, "must be lowercase letters, digits and '-' (no leading/trailing '-')")
    return raw

"""AES-256-GCM envelope encryption.

Layout of every ciphertext this module produces::

    version (1 byte, 0x01) | key_id (4 bytes, big endian) | nonce (12 bytes) | ciphertext+tag

The key id names the key that sealed it (a data key version or a root key fingerprint), so a
reader can pick the right key without guessing. The caller's *aad* binds the ciphertext to where
it belongs: decrypting it under any other AAD fails the GCM tag check.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = 1
KEY_BYTES = 32
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")


class DecryptionError(Exception):
    """The ciphertext is malformed, was sealed with another key, or is bound to another place."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encrypt(key: bytes, key_id: int, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    header = _HEADER.pack(FORMAT_V1, key_id)
    # The header is authenticated too, so the key id cannot be swapped without detection.
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def key_id_of(ciphertext: bytes) -> int:
    if len(ciphertext) < _HEADER.size + NONCE_BYTES + 16:
        raise DecryptionError("ciphertext is truncated")
    version, key_id = _HEADER.unpack_from(ciphertext)
    if version != FORMAT_V1:
        raise DecryptionError(f"unknown ciphertext format {version}")
    return int(key_id)


def decrypt(key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    key_id_of(ciphertext)
    header = ciphertext[: _HEADER.size]
    nonce = ciphertext[_HEADER.size : _HEADER.size + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext[_HEADER.size + NONCE_BYTES :], header + aad)
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate under this key and binding") from None


def parse_root_key(encoded: str) -> bytes:
    """Decode a base64 (standard or urlsafe) 32-byte root key; raises ValueError with a reason."""
    text = encoded.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ValueError("root key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"root key must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def encode_root_key(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def fingerprint(key: bytes) -> int:
    """A 32-bit identifier for a root key, used as its key id (not a secret-strength hash)."""
    return int.from_bytes(hashlib.sha256(b"strongroom-root-key-id|" + key).digest()[:4], "big")

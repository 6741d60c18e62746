"""A stream's credentials: sealed with the root key, bound (AAD) to the stream's row, opened only
in memory for one send or test.

The services seal what an admin enters (``stream_seal_credentials``); the delivery engine and the
"send test event" path open them (``stream_context``). Neither ever logs or stores the plain
values; ``stream_secret_strings`` + ``stream_scrub`` remove them from any text before it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from audit.streams.base import StreamContext, StreamUnavailable
from audit.streams.models import AuditStream
from secrets_app.crypto.bindings import stream_aad
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.keyring import keyring

ERROR_MAX_LENGTH = 240


def _aad(stream: AuditStream) -> bytes:
    return stream_aad(public_id=stream.public_id, organization_id=stream.organization_id, kind=stream.kind)


def stream_seal_credentials(stream: AuditStream, credentials: Mapping[str, str]) -> bytes:
    """The ciphertext to store in ``stream.credentials_ciphertext``. The row's ``public_id``,
    ``organization_id`` and ``kind`` must be final: they are bound into the ciphertext."""
    return keyring.seal_map_with_root(credentials, _aad(stream))


def stream_open_credentials(stream: AuditStream) -> dict[str, str]:
    """The plain credentials ({} when none are set).

    Raises StreamUnavailable (not Rejected: every batch would fail the same way, so the stream waits
    for an admin instead of parking good events) when the ciphertext cannot be opened: moved from
    another row, or sealed under a root key rotated since.
    """
    try:
        return keyring.open_map_with_root(stream.credentials_ciphertext, _aad(stream))
    except DecryptionError:
        raise StreamUnavailable(f"the credentials of stream {stream.name} cannot be opened; enter them again") from None


def stream_context(stream: AuditStream) -> StreamContext:
    """The decrypted stream for one send or test (in memory only). Raises StreamUnavailable as
    ``stream_open_credentials`` does."""
    return StreamContext(
        id=stream.pk,
        name=stream.name,
        organization_id=stream.organization_id,
        config=dict(stream.config),
        credentials=stream_open_credentials(stream),
    )


def stream_secret_strings(stream: AuditStream) -> list[str]:
    """The stream's credential values, to scrub from any text before it is stored ([] when they
    cannot be opened)."""
    try:
        return [value for value in stream_open_credentials(stream).values() if isinstance(value, str) and value]
    except Exception:
        return []


def stream_scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` without any of ``secrets`` (4 characters or longer), cut to what ``last_error`` holds."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text[:ERROR_MAX_LENGTH]

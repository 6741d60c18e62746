"""Sealing proposed values of a change request.

A held write's value and comment are encrypted with the project's data key, exactly like secret
versions, and bound by AAD to (project, change request, item position, field): a ciphertext
copied to another request, item or field fails to open. Nothing here logs or repeats plaintext.
"""

from __future__ import annotations

from secrets_app.crypto.bindings import change_request_item_aad
from secrets_app.keyring import keyring


def seal_item_field(
    *, project_id: int, request_public_id: str, position: int, field: str, plaintext: str | None
) -> bytes | None:
    """The ciphertext of *plaintext* (None stays None: "not part of the change")."""
    if plaintext is None:
        return None
    aad = change_request_item_aad(
        project_id=project_id, request_public_id=request_public_id, position=position, field=field
    )
    return keyring.encrypt_for_project(project_id, plaintext.encode("utf-8"), aad)


def open_item_field(
    *, project_id: int, request_public_id: str, position: int, field: str, ciphertext: bytes | memoryview | None
) -> str | None:
    if ciphertext is None:
        return None
    aad = change_request_item_aad(
        project_id=project_id, request_public_id=request_public_id, position=position, field=field
    )
    return keyring.decrypt_for_project(bytes(ciphertext), aad).decode("utf-8")

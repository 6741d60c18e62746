"""What binds each ciphertext to its place: every AAD (additional authenticated data) Strongroom seals with.

AES-256-GCM authenticates the AAD together with the ciphertext (``secrets_app/crypto/envelope.py``). A
ciphertext opens only with the AAD it was sealed under, so bytes copied by a database writer to another row,
project, version or field fail to open (``DecryptionError``) instead of revealing a secret in the wrong place.

Each function names one kind of sealed value and the coordinates that pin it. The formats are frozen: changing
one makes every stored ciphertext of that kind unreadable (``tests/secrets_app/test_crypto_bindings.py`` pins the bytes).
Pure functions of ids and strings: no ORM here, the callers pass the row's fields.
"""

from __future__ import annotations

import uuid

Id = uuid.UUID | str

# --- the key hierarchy (secrets_app/keyring.py) --------------------------------------------------------------

ROOT_KEY_CHECK_AAD = b"root-key-check"
"""The known-plaintext check sealed under the root key: proves a configured root key is the right one."""


def data_key_aad(*, project_id: int | None, version: int) -> bytes:
    """A data key wrapped by the root key, bound to its project (``None``: the system key) and version."""
    return f"data-key|{project_id if project_id is not None else 'system'}|{version}".encode()


# --- secrets ------------------------------------------------------------------------------------------------


def secret_field_aad(*, project_id: int, environment_id: int, secret_id: int, version: int, field: str) -> bytes:
    """A secret version's field (``value`` or ``comment``), under the project's data key."""
    return f"secret|{project_id}|{environment_id}|{secret_id}|{version}|{field}".encode()


def change_request_item_aad(*, project_id: int, request_public_id: str, position: int, field: str) -> bytes:
    """A proposed value held in a change request (approvals), under the project's data key."""
    return f"change-request|{project_id}|{request_public_id}|{position}|{field}".encode()


# --- credentials Strongroom holds for outside systems (sealed with the root key) ------------------------------


def connection_aad(*, public_id: Id, organization_id: int, kind: str) -> bytes:
    """A sync connection's credentials (syncs)."""
    return f"app-connection|{public_id}|{organization_id}|{kind}".encode()


def channel_aad(*, public_id: Id, organization_id: int, kind: str) -> bytes:
    """A notification channel's credentials (notifications)."""
    return f"notification-channel|{public_id}|{organization_id}|{kind}".encode()


def stream_aad(*, public_id: Id, organization_id: int, kind: str) -> bytes:
    """An audit stream's credentials (audit/streams)."""
    return f"audit-stream|{public_id}|{organization_id}|{kind}".encode()


def dynamic_secret_aad(*, public_id: Id, project_id: int, provider: str) -> bytes:
    """A dynamic secret's root credentials (dynamic)."""
    return f"dynamic-secret|{public_id}|{project_id}|{provider}".encode()


def lease_aad(*, public_id: Id, organization_id: int, provider: str) -> bytes:
    """A lease's snapshot of its dynamic secret's root credentials, and the credentials it issued (dynamic)."""
    return f"dynamic-lease|{public_id}|{organization_id}|{provider}".encode()


def ado_run_hook_aad(*, public_id: Id, organization_id: int) -> bytes:
    """An Azure DevOps run hook's password and extra header value (dynamic)."""
    return f"ado-run-hook|{public_id}|{organization_id}".encode()


def rotation_aad(*, public_id: Id, project_id: int, kind: str) -> bytes:
    """A rotation's root credentials (rotation)."""
    return f"rotation|{public_id}|{project_id}|{kind}".encode()


def rotation_pending_aad(*, rotation_public_id: Id, public_id: Id, user_index: int) -> bytes:
    """A rotation's write-ahead password, bound to its rotation, its pending record and the user it is for."""
    return f"rotation-pending|{rotation_public_id}|{public_id}|{user_index}".encode()


def rotation_issued_aad(*, rotation_public_id: Id, public_id: Id, key_id: str) -> bytes:
    """A credential a rotation target issued, bound to its rotation, its pending record and its key id."""
    return f"rotation-issued|{rotation_public_id}|{public_id}|{key_id}".encode()


def sso_client_secret_aad(*, organization_id: int) -> bytes:
    """An organization's OIDC client secret (SSO)."""
    return f"org-sso-client-secret|{organization_id}".encode()


def kubernetes_auth_aad(*, identity_id: int, field: str) -> bytes:
    """A machine identity's Kubernetes auth reviewer token or CA certificate."""
    return f"kubernetes-auth|{identity_id}|{field}".encode()


def totp_seed_aad(*, user_id: int) -> bytes:
    """A person's TOTP seed."""
    return f"user-totp|{user_id}".encode()


def gate_callback_token_aad(*, gate_id: int, build_id: int | str, stage_attempt: int | str) -> bytes:
    """The Azure DevOps job token a pipeline gate keeps until it calls back (governance)."""
    return f"strongroom|gate-callback-token|{gate_id}|{build_id}|{stage_attempt}".encode()

"""Every AAD is built in one module (secrets_app/crypto/bindings.py), and its bytes never change.

A changed format would make every stored ciphertext of that kind unreadable after an upgrade, so the bytes are
pinned here; a new AAD builder written anywhere else would split "what binds a ciphertext to its place" again.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

from secrets_app.crypto import bindings

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("secrets_app", "audit", "syncs", "notifications", "approvals", "dynamic", "rotation", "governance", "estate")
PUBLIC = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER = uuid.UUID("00000000-0000-4000-8000-000000000002")


def test_it_keeps_every_binding_byte_for_byte() -> None:
    assert bindings.ROOT_KEY_CHECK_AAD == b"root-key-check"
    assert bindings.data_key_aad(project_id=7, version=2) == b"data-key|7|2"
    assert bindings.data_key_aad(project_id=None, version=1) == b"data-key|system|1"
    assert (
        bindings.secret_field_aad(project_id=1, environment_id=2, secret_id=3, version=4, field="value")
        == b"secret|1|2|3|4|value"
    )
    assert (
        bindings.change_request_item_aad(project_id=1, request_public_id="cr", position=0, field="comment")
        == b"change-request|1|cr|0|comment"
    )
    pinned = {
        bindings.connection_aad(public_id=PUBLIC, organization_id=5, kind="azure_devops"): (
            f"app-connection|{PUBLIC}|5|azure_devops"
        ),
        bindings.channel_aad(public_id=PUBLIC, organization_id=5, kind="slack_bot"): (
            f"notification-channel|{PUBLIC}|5|slack_bot"
        ),
        bindings.stream_aad(public_id=PUBLIC, organization_id=5, kind="webhook"): f"audit-stream|{PUBLIC}|5|webhook",
        bindings.dynamic_secret_aad(public_id=PUBLIC, project_id=3, provider="postgresql"): (
            f"dynamic-secret|{PUBLIC}|3|postgresql"
        ),
        bindings.lease_aad(public_id=PUBLIC, organization_id=5, provider="mysql"): f"dynamic-lease|{PUBLIC}|5|mysql",
        bindings.ado_run_hook_aad(public_id=PUBLIC, organization_id=5): f"ado-run-hook|{PUBLIC}|5",
        bindings.rotation_aad(public_id=PUBLIC, project_id=3, kind="postgresql"): f"rotation|{PUBLIC}|3|postgresql",
        bindings.rotation_pending_aad(rotation_public_id=PUBLIC, public_id=OTHER, user_index=1): (
            f"rotation-pending|{PUBLIC}|{OTHER}|1"
        ),
        bindings.rotation_issued_aad(rotation_public_id=PUBLIC, public_id=OTHER, key_id="k1"): (
            f"rotation-issued|{PUBLIC}|{OTHER}|k1"
        ),
        bindings.sso_client_secret_aad(organization_id=5): "org-sso-client-secret|5",
        bindings.kubernetes_auth_aad(identity_id=9, field="token_reviewer_jwt"): "kubernetes-auth|9|token_reviewer_jwt",
        bindings.totp_seed_aad(user_id=4): "user-totp|4",
        bindings.gate_callback_token_aad(
            gate_id=8, build_id=12, stage_attempt=1
        ): "strongroom|gate-callback-token|8|12|1",
    }
    for built, expected in pinned.items():
        assert built == expected.encode()


def test_it_builds_no_aad_outside_the_bindings_module() -> None:
    """A function named ``*aad`` elsewhere may pass a row's fields to a binding, never format bytes itself."""
    offenders = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            if path == ROOT / "secrets_app/crypto/bindings.py" or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.FunctionDef) and node.name.lower().endswith("aad"):
                    if any(isinstance(inner, ast.JoinedStr) for inner in ast.walk(node)):
                        offenders.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert offenders == [], f"AAD formatted outside secrets_app/crypto/bindings.py: {offenders}"

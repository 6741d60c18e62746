"""App connections: create, change, delete, test. Credentials are write-only: sealed with the root
key (AAD bound to the row) at save, opened only in memory for a provider call, never returned."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from audit.services import AuditActor, audit_record
from secrets_app.crypto.bindings import connection_aad
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.keyring import keyring
from secrets_app.models import Organization
from secrets_app.principals import Principal
from syncs.models import AppConnection, ConnectionTestStatus
from syncs.providers.base import ConfigError, ConnectionInfo, ProviderError
from syncs.providers.registry import PROVIDERS, provider_for
from syncs.sanitize import safe_error


def _seal(connection: AppConnection, credentials: Mapping[str, str]) -> bytes:
    plaintext = json.dumps(dict(credentials), sort_keys=True).encode()
    aad = connection_aad(
        public_id=connection.public_id, organization_id=connection.organization_id, kind=connection.kind
    )
    return keyring.seal_with_root(plaintext, aad)


def connection_info(connection: AppConnection) -> ConnectionInfo:
    """The decrypted connection for one provider call (in memory only)."""
    aad = connection_aad(
        public_id=connection.public_id, organization_id=connection.organization_id, kind=connection.kind
    )
    try:
        credentials = json.loads(keyring.open_with_root(bytes(connection.credentials_ciphertext), aad))
    except DecryptionError:
        # A ciphertext moved from another row, or sealed under a root key that has been rotated
        # since (root rotation re-wraps data keys only): the credentials must be entered again.
        raise ConfigError(
            f"the credentials of connection {connection.name} cannot be opened; enter them again"
        ) from None
    return ConnectionInfo(
        id=connection.pk,
        method=connection.method,
        credentials=credentials,
        config=dict(connection.config),
        organization_id=connection.organization_id,
    )


def _validated(kind: str, method: str, credentials: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    provider = PROVIDERS.require(kind)
    try:
        return provider.validate_connection(
            method=method, credentials={k: str(v) for k, v in credentials.items()}, config=config
        )
    except ConfigError as exc:
        field, _, message = str(exc).partition(": ")
        if message and " " not in field:
            raise ValidationFailed(field, message) from None
        raise ValidationFailed("connection", str(exc)) from None
    except ImportError:
        raise ValidationFailed("kind", "this destination is not available on this server") from None


def _audit(principal: Principal | AuditActor, action: str, connection: AppConnection, **metadata: Any) -> None:
    actor = principal if isinstance(principal, AuditActor) else principal.audit_actor()
    audit_record(
        action=action,
        actor=actor,
        organization_id=connection.organization_id,
        resource_type="connection",
        resource_id=str(connection.public_id),
        metadata={"name": connection.name, "kind": connection.kind, "method": connection.method, **metadata},
    )


def connection_create(
    *,
    principal: Principal,
    organization: Organization,
    kind: str,
    method: str,
    name: str,
    credentials: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    description: str = "",
) -> AppConnection:
    """Save a connection (the caller checked it may manage connections in *organization*).
    The credentials are sealed; the audit event names the connection, never a credential."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name", "this field is required")
    cleaned = _validated(kind, method, credentials, config or {})
    connection = AppConnection(
        organization=organization,
        kind=kind,
        method=method,
        name=name[:120],
        description=description[:500],
        config=cleaned,
        created_by=principal.user if principal.kind == "user" else None,
    )
    connection.credentials_ciphertext = _seal(connection, credentials)
    try:
        with transaction.atomic():
            connection.save()
            _audit(principal, "connection.created", connection)
    except IntegrityError:
        raise Conflict(f"A connection named '{name}' already exists", fields={"name": ["already exists"]}) from None
    return connection


def connection_update(
    *,
    principal: Principal,
    connection: AppConnection,
    name: str | None = None,
    description: str | None = None,
    method: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> AppConnection:
    """Rename, or replace credentials/config (credentials are replaced as a whole, never merged
    with the stored ones, and never read back)."""
    changed: list[str] = []
    if name is not None and name.strip() and name.strip() != connection.name:
        connection.name = name.strip()[:120]
        changed.append("name")
    if description is not None:
        connection.description = description[:500]
        changed.append("description")
    if credentials is not None or config is not None or (method and method != connection.method):
        new_method = method or connection.method
        if credentials is None:
            raise ValidationFailed("credentials", "give the credentials again when changing the method or settings")
        connection.config = _validated(
            connection.kind, new_method, credentials, config if config is not None else connection.config
        )
        connection.method = new_method
        connection.credentials_ciphertext = _seal(connection, credentials)
        connection.last_test_status = ConnectionTestStatus.UNTESTED
        changed += ["credentials", "config"]
    try:
        with transaction.atomic():
            connection.save()
            _audit(principal, "connection.updated", connection, changed=changed)
    except IntegrityError:
        raise Conflict(f"A connection named '{name}' already exists", fields={"name": ["already exists"]}) from None
    return connection


def connection_delete(*, principal: Principal, connection: AppConnection) -> None:
    """Delete a connection no sync uses (409 naming how many syncs still use it)."""
    in_use = connection.syncs.count()
    if in_use:
        raise Conflict(f"{in_use} sync(s) use this connection; delete them first")
    try:
        with transaction.atomic():
            _audit(principal, "connection.deleted", connection)
            connection.delete()
    except ProtectedError:
        raise Conflict("syncs use this connection; delete them first") from None


def connection_test(*, principal: Principal, connection: AppConnection) -> tuple[bool, str]:
    """Call the destination with the stored credentials. Returns (ok, safe message) and records
    the outcome on the connection and in the audit log."""
    ok, message = False, ""
    try:
        info = connection_info(connection)
        message = provider_for(connection.kind).test_connection(info)
        ok = True
    except ProviderError as exc:
        message = safe_error(exc, secrets=_secret_strings(connection))
    except Exception as exc:  # never let SDK text (which may hold a URL with a token) escape
        message = f"the test failed ({type(exc).__name__})"
    with transaction.atomic():
        AppConnection.objects.filter(pk=connection.pk).update(
            last_tested_at=timezone.now(),
            last_test_status=ConnectionTestStatus.OK if ok else ConnectionTestStatus.FAILED,
            last_test_message=message[:240],
        )
        _audit(principal, "connection.tested", connection, ok=ok)
    connection.refresh_from_db()
    return ok, message


def _secret_strings(connection: AppConnection) -> list[str]:
    try:
        return [str(value) for value in connection_info(connection).credentials.values()]
    except Exception:
        return []

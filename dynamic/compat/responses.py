"""Infisical's dynamic secret and lease objects (reference §1.3) built from ours, and its
``provider {type, inputs}`` turned into our provider, settings, credentials and statements.

Only ``sql-database`` with ``client`` ``postgres`` or ``mysql2`` exists here (our PostgreSQL and
MySQL/MariaDB providers). Each provider declares its Infisical type and client
(``DynamicProvider.infisical_type`` / ``infisical_client``); the maps derive from the registry. ``inputs`` are answered **without the root password**: Infisical returns it
on create, get and update; ours is write-only after save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dynamic.models import DynamicSecret, Lease, LeaseStatus
from dynamic.providers.base import DynamicProvider
from dynamic.providers.registry import PROVIDERS
from secrets_app.compat.http import CompatError
from secrets_app.compat.responses import compat_id, iso
from secrets_app.plugins import PluginError

SQL_TYPE = "sql-database"
FAILED_TO_DELETE = "Failed to delete"  # Infisical's one lease status (an active lease has none)
# inputs key -> our statements kind
STATEMENT_INPUTS = {"creationStatement": "creation", "revocationStatement": "revocation", "renewStatement": "renewal"}
_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def _declared(kind: str) -> DynamicProvider | None:
    try:
        return PROVIDERS.get(kind)
    except (PluginError, ImportError):
        return None


def infisical_type(kind: str) -> str:
    """Infisical's provider type of our provider *kind*, as the provider declares it
    (``infisical_type``); a kind that declares none, or is not registered here, answers under its
    own name."""
    provider = _declared(kind)
    return (provider.infisical_type if provider is not None else "") or kind


def client_of(kind: str) -> str | None:
    """The ``sql-database`` ``inputs.client`` of our provider *kind* (``postgres``); None for the
    other kinds."""
    provider = _declared(kind)
    if provider is None or provider.infisical_type != SQL_TYPE:
        return None
    return provider.infisical_client or None


def sql_clients() -> dict[str, str]:
    """Infisical client -> our provider kind, for every registered ``sql-database`` provider."""
    return {client: kind for kind, _ in PROVIDERS.kinds() if (client := client_of(kind)) is not None}


def ttl_text(seconds: int | None) -> str | None:
    """Seconds as an ``ms``-style duration (Infisical stores the text it was given): the largest
    whole unit, ``3600`` → ``1h``, ``5400`` → ``90m``, ``61`` → ``61s``."""
    if seconds is None:
        return None
    for suffix, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


def _statement_text(statements: list[str]) -> str:
    return "\n".join(statement if statement.rstrip().endswith(";") else statement + ";" for statement in statements)


def inputs_shape(secret: DynamicSecret) -> dict[str, Any]:
    """``inputs`` as Infisical's sql-database provider has them, minus the root password (other
    providers: their non-secret settings as stored)."""
    config = secret.config or {}
    client = client_of(secret.provider)
    if client is None:
        return dict(config)
    statements = secret.statements or {}
    shape: dict[str, Any] = {
        "client": client,
        "host": config.get("host"),
        "port": config.get("port"),
        "database": config.get("database"),
        "username": config.get("username"),
        "creationStatement": _statement_text(list(statements.get("creation") or [])),
        "revocationStatement": _statement_text(list(statements.get("revocation") or [])),
        "renewStatement": _statement_text(list(statements.get("renewal") or [])),
        "sslEnabled": bool(config.get("tls")) or config.get("sslmode") in ("require", "verify-full"),
    }
    if secret.password_requirements:
        shape["passwordRequirements"] = secret.password_requirements
    return shape


def dynamic_secret_shape(
    secret: DynamicSecret, *, with_inputs: bool = False, status: str | None = None, status_details: str | None = None
) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": str(secret.public_id),
        "name": secret.name,
        "version": secret.version,
        "type": infisical_type(secret.provider),
        "defaultTTL": ttl_text(secret.default_ttl),
        "maxTTL": ttl_text(secret.max_ttl),
        "folderId": compat_id("folder", secret.folder_id),
        "status": status,
        "statusDetails": status_details,
        "usernameTemplate": secret.username_template or None,
        "metadata": [],
        "createdAt": iso(secret.created_at),
        "updatedAt": iso(secret.updated_at),
    }
    if with_inputs:
        shape["inputs"] = inputs_shape(secret)
    return shape


def lease_status(lease: Lease) -> tuple[str | None, str | None]:
    """(status, statusDetails): a revocation that failed (retrying, or irrevocable) is Infisical's
    "Failed to delete" with the sanitised reason; anything else has no status."""
    if lease.status in (LeaseStatus.FAILED, LeaseStatus.IRREVOCABLE):
        details = lease.last_error or "revocation failed"
        if lease.status == LeaseStatus.FAILED:
            details += " - Retrying automatically"
        return FAILED_TO_DELETE, details[:255]
    return None, None


def lease_shape(lease: Lease) -> dict[str, Any]:
    status, details = lease_status(lease)
    return {
        "id": str(lease.public_id),
        "version": lease.version,
        "externalEntityId": lease.username,
        "expireAt": iso(lease.expire_at),
        "status": status,
        "statusDetails": details,
        "dynamicSecretId": str(lease.dynamic_secret_public_id),
        "config": None,
        "createdAt": iso(lease.created_at),
        "updatedAt": iso(lease.updated_at),
    }


def lease_secret_shape(lease: Lease) -> dict[str, Any]:
    """The lease's dynamic secret, or — when it was deleted since (the lease lives on from its
    snapshot) — what the snapshot knows of it."""
    secret = DynamicSecret.objects.filter(pk=lease.dynamic_secret_id).first() if lease.dynamic_secret_id else None
    if secret is not None:
        return dynamic_secret_shape(secret)
    return {
        "id": str(lease.dynamic_secret_public_id),
        "name": lease.dynamic_secret_name,
        "version": 1,
        "type": infisical_type(lease.provider),
        "defaultTTL": None,
        "maxTTL": None,
        "folderId": None,
        "status": None,
        "statusDetails": None,
        "usernameTemplate": None,
        "metadata": [],
        "createdAt": iso(lease.created_at),
        "updatedAt": iso(lease.updated_at),
    }


class ProviderInputs:
    """``provider.inputs`` (or PATCH ``data.inputs``) split into our pieces; only what was given."""

    def __init__(self, inputs: Mapping[str, Any], *, provider: str) -> None:
        self.provider = provider
        self.config: dict[str, Any] = {}
        self.credentials: dict[str, str] = {}
        self.statements: dict[str, Any] = {}
        self.password_requirements: Mapping[str, Any] | None = None
        for key in ("host", "port", "database", "username"):
            if inputs.get(key) not in (None, ""):
                self.config[key] = (
                    inputs[key].lower() if key == "host" and isinstance(inputs[key], str) else inputs[key]
                )
        if inputs.get("sslEnabled") is not None:
            declared = _declared(provider)
            if declared is not None and any(field.name == "tls" for field in declared.fields):  # MySQL's switch
                self.config["tls"] = bool(inputs["sslEnabled"])
            else:
                self.config["sslmode"] = "require" if inputs["sslEnabled"] else "prefer"
        if inputs.get("ca"):
            raise CompatError(400, "inputs.ca: a custom CA certificate is not supported; use sslEnabled")
        if inputs.get("gatewayId") or inputs.get("gatewayPoolId"):
            raise CompatError(400, "Gateways are not supported")
        if inputs.get("password") not in (None, ""):
            if not isinstance(inputs["password"], str):
                raise CompatError(400, "inputs.password: must be text")
            self.credentials["password"] = inputs["password"]
        for key, kind in STATEMENT_INPUTS.items():
            if isinstance(inputs.get(key), str) and inputs[key].strip():
                self.statements[kind] = inputs[key]
        if isinstance(inputs.get("passwordRequirements"), Mapping):
            self.password_requirements = inputs["passwordRequirements"]

    def __repr__(self) -> str:
        return f"<ProviderInputs {self.provider} {sorted(self.config)}>"


def provider_of(provider: Any) -> tuple[str, Mapping[str, Any]]:
    """(our provider kind, inputs) from ``{type, inputs}``; 400 for what we do not have."""
    if not isinstance(provider, Mapping) or not isinstance(provider.get("inputs"), Mapping):
        raise CompatError(400, "provider: expected {type, inputs}")
    kind = provider.get("type")
    if kind != SQL_TYPE:
        raise CompatError(400, f"Dynamic secret provider type '{kind}' is not supported here (only {SQL_TYPE})")
    inputs = provider["inputs"]
    client = inputs.get("client")
    clients = sql_clients()
    if client not in clients:
        raise CompatError(400, f"inputs.client: '{client}' is not supported here (use {' or '.join(clients)})")
    return clients[client], inputs

"""Infisical's Secret Rotation v2 object ("sanitized" rotation) built from a ``Rotation``.

Infisical keeps the admin credentials in a separate App Connection; a rotation here holds its root
settings itself, so ``connection`` is derived from the rotation: ``{app, name, id}`` as Infisical
has it (``id`` a stable UUID derived from the rotation's), plus the type's settings that are not
secret (SQL: host, port, database, root username, TLS). Never a root credential, never a
generated one: Infisical's ``generated-credentials`` route is not served.

Types are served when their kind is registered (``rotation.kinds.registry``): PostgreSQL and
MySQL credentials, AWS IAM user access keys (``aws-iam-user-secret``) and Entra application
client secrets (``azure-client-secret``).

Statuses: Infisical knows ``success`` and ``failed``. Ours map onto them where they mean the same
(``retrying`` is a failed attempt that will be retried: ``failed``, with the sanitised reason);
the states Infisical does not have keep a name of their own: ``pending`` (defined, never rotated —
Infisical issues credentials on create), ``running`` (a run holds the rotation) and, in the answer
to "rotate" only, ``queued``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rotation.models import Rotation, RotationMode, RotationStatus
from secrets_app.compat.responses import compat_id, iso

STATUS: dict[str, str] = {
    RotationStatus.NEW: "pending",
    RotationStatus.RUNNING: "running",
    RotationStatus.SUCCESS: "success",
    RotationStatus.RETRYING: "failed",
    RotationStatus.FAILED: "failed",
}
_CONNECTION_NAMESPACE = uuid.UUID("8f0c4d7e-2b6a-4f51-9a3e-5d1c7b9e0a42")  # fixed: the ids stay stable


def _sql_parameters(rotation: Rotation) -> dict[str, Any]:
    from rotation.kinds.registry import KINDS, kind_for

    users = list(rotation.usernames or [])
    parameters: dict[str, Any] = {
        "username1": users[0] if users else None,
        # single-user mode has no second user (Infisical has no such mode)
        "username2": users[1] if rotation.mode == RotationMode.ALTERNATE and len(users) > 1 else None,
    }
    statement = getattr(kind_for(rotation.kind), "statement", "") if rotation.kind in KINDS else ""
    if statement:
        parameters["rotationStatement"] = statement
    requirements = (rotation.config or {}).get("passwordRequirements")
    if requirements:
        parameters["passwordRequirements"] = requirements
    return parameters


def _aws_parameters(rotation: Rotation) -> dict[str, Any]:
    users = list(rotation.usernames or [])
    return {"userName": users[0] if users else None, "region": (rotation.config or {}).get("region") or None}


def _azure_parameters(rotation: Rotation) -> dict[str, Any]:
    config = rotation.config or {}
    return {"objectId": config.get("objectId"), "clientId": config.get("clientId")}


def _sql_ssl(config: dict[str, Any]) -> dict[str, Any]:
    return {"sslEnabled": bool(config.get("tls")) or config.get("sslmode") in ("require", "verify-full")}


@dataclass(frozen=True)
class RotationType:
    """One of Infisical's rotation types served here, and how our kind maps onto it."""

    name: str  # Infisical's type, in the URL and in ``type``
    kind: str  # our kind
    app: str  # the App Connection ``app`` Infisical pairs with the type
    mapping: dict[str, str]  # Infisical's secretsMapping field -> ours
    parameters: Callable[[Rotation], dict[str, Any]]
    # the root connection's settings that are not secret (a whitelist: config may grow)
    connection_settings: tuple[str, ...] = ()
    connection_extra: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda config: {})


_SQL_MAPPING = {"username": "username", "password": "password"}
_SQL_SETTINGS = ("host", "port", "database", "username")
TYPES: dict[str, RotationType] = {
    item.name: item
    for item in (
        RotationType(
            "postgres-credentials", "postgresql", "postgres", _SQL_MAPPING, _sql_parameters, _SQL_SETTINGS, _sql_ssl
        ),
        RotationType("mysql-credentials", "mysql", "mysql", _SQL_MAPPING, _sql_parameters, _SQL_SETTINGS, _sql_ssl),
        RotationType(
            "aws-iam-user-secret",
            "aws_iam_access_key",
            "aws",
            {"accessKeyId": "key_id", "secretAccessKey": "secret"},
            _aws_parameters,
            ("endpointUrl",),
        ),
        RotationType(
            "azure-client-secret",
            "azure_client_secret",
            "azure-client-secrets",
            {"clientId": "client_id", "clientSecret": "client_secret"},
            _azure_parameters,
            ("tenantId", "adminClientId", "authorityUrl", "graphUrl"),
        ),
    )
}
TYPE_OF_KIND = {item.kind: item for item in TYPES.values()}


def served_type(name: str) -> RotationType | None:
    """The type called *name* when its kind exists here (a kind not registered yet is not served)."""
    from rotation.kinds.registry import KINDS

    item = TYPES.get(name)
    return item if item is not None and item.kind in KINDS else None


def served_type_names() -> list[str]:
    return sorted(name for name in TYPES if served_type(name) is not None)


def rotation_type(rotation: Rotation) -> str:
    """Infisical's type of the rotation; a kind without one answers under its own name."""
    item = TYPE_OF_KIND.get(rotation.kind)
    return item.name if item is not None else rotation.kind


def connection_id(rotation: Rotation) -> str:
    return str(uuid.uuid5(_CONNECTION_NAMESPACE, str(rotation.public_id)))


def connection_shape(rotation: Rotation) -> dict[str, Any]:
    """The root connection: Infisical's ``{app, name, id}`` and the settings that are not secret.
    Root credentials live sealed outside ``config`` and are never read here."""
    config = dict(rotation.config or {})
    item = TYPE_OF_KIND.get(rotation.kind)
    shape: dict[str, Any] = {
        "app": item.app if item is not None else rotation.kind,
        "name": f"{rotation.name}-root",
        "id": connection_id(rotation),
    }
    if item is not None:
        for key in item.connection_settings:
            if config.get(key) not in (None, ""):
                shape[key] = config[key]
        shape.update(item.connection_extra(config))
    return shape


def _parameters(rotation: Rotation) -> dict[str, Any]:
    item = TYPE_OF_KIND.get(rotation.kind)
    if item is None:
        return {"usernames": list(rotation.usernames or [])}
    return item.parameters(rotation)


def _secrets_mapping(rotation: Rotation) -> dict[str, str]:
    item = TYPE_OF_KIND.get(rotation.kind)
    mapping = rotation.secrets_mapping or {}
    if item is None:
        return dict(mapping)
    return {theirs: mapping[ours] for theirs, ours in item.mapping.items() if ours in mapping}


def _message(rotation: Rotation) -> str | None:
    if not rotation.last_error:
        return None
    if rotation.status == RotationStatus.RETRYING:
        return f"{rotation.last_error} - Rotation will be re-attempted shortly"[:1024]
    return rotation.last_error


def rotation_shape(rotation: Rotation, *, queued: bool = False) -> dict[str, Any]:
    """The rotation as Infisical's routes answer it (``secretRotation``). *queued*: the answer to
    "rotate", whose run has not started yet: ``rotationStatus`` says ``queued``, so a script that
    checks for ``success`` (Infisical rotates inside the request) does not take the previous
    run's outcome for this one's."""
    environment, folder = rotation.environment, rotation.folder
    scheduled = bool(rotation.interval_days or rotation.cron)
    return {
        "id": str(rotation.public_id),
        "name": rotation.name,
        "description": rotation.description or None,
        "type": rotation_type(rotation),
        "projectId": str(rotation.project.public_id),
        "folderId": compat_id("folder", folder.pk),
        "connectionId": connection_id(rotation),
        "connection": connection_shape(rotation),
        "environment": {"slug": environment.slug, "name": environment.name, "id": compat_id("env", environment.pk)},
        "folder": {"id": compat_id("folder", folder.pk), "path": folder.path},
        "parameters": _parameters(rotation),
        "secretsMapping": _secrets_mapping(rotation),
        "isAutoRotationEnabled": scheduled and not rotation.paused,
        "rotationInterval": rotation.interval_days,  # None for a cron schedule (Infisical has none)
        "rotateAtUtc": {"hours": rotation.rotate_at_hour, "minutes": rotation.rotate_at_minute},
        "rotationStatus": "queued" if queued else STATUS.get(rotation.status, rotation.status),
        "lastRotationAttemptedAt": iso(rotation.last_attempted_at),
        "lastRotatedAt": iso(rotation.last_rotated_at),
        "lastRotationJobId": None,
        "lastRotationMessage": _message(rotation),
        "nextRotationAt": iso(rotation.next_run_at),
        "activeIndex": rotation.active_index or 0,
        "createdAt": iso(rotation.created_at),
        "updatedAt": iso(rotation.updated_at),
    }

"""Infisical's Secret Rotation v2 object ("sanitized" rotation) built from a ``Rotation``.

Infisical keeps the admin credentials in a separate App Connection; a rotation here holds its root
settings itself, so ``connection`` is derived from the rotation: ``{app, name, id}`` as Infisical
has it (``id`` a stable UUID derived from the rotation's), plus the type's settings that are not
secret (SQL: host, port, database, root username, TLS). Never a root credential, never a
generated one: Infisical's ``generated-credentials`` route is not served.

A type is served when a registered kind (``rotation.kinds.registry``) declares it
(``RotationKind.infisical_type``): PostgreSQL and MySQL credentials, AWS IAM user access keys
(``aws-iam-user-secret``) and Entra application client secrets (``azure-client-secret``). ``TYPES``
holds how each of Infisical's types looks; a declared type it does not hold gets the generic shape
(the kind as ``app``, ``usernames`` as parameters, the mapping as stored).

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
from secrets_app.plugins import PluginError

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
    app: str  # the App Connection ``app`` Infisical pairs with the type
    mapping: dict[str, str] | None  # Infisical's secretsMapping field -> ours; None: ours as stored
    parameters: Callable[[Rotation], dict[str, Any]]
    # the root connection's settings that are not secret (a whitelist: config may grow)
    connection_settings: tuple[str, ...] = ()
    connection_extra: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda config: {})


_SQL_MAPPING = {"username": "username", "password": "password"}
_SQL_SETTINGS = ("host", "port", "database", "username")
TYPES: dict[str, RotationType] = {
    item.name: item
    for item in (
        RotationType("postgres-credentials", "postgres", _SQL_MAPPING, _sql_parameters, _SQL_SETTINGS, _sql_ssl),
        RotationType("mysql-credentials", "mysql", _SQL_MAPPING, _sql_parameters, _SQL_SETTINGS, _sql_ssl),
        RotationType(
            "aws-iam-user-secret",
            "aws",
            {"accessKeyId": "key_id", "secretAccessKey": "secret"},
            _aws_parameters,
            ("endpointUrl",),
        ),
        RotationType(
            "azure-client-secret",
            "azure-client-secrets",
            {"clientId": "client_id", "clientSecret": "client_secret"},
            _azure_parameters,
            ("tenantId", "adminClientId", "authorityUrl", "graphUrl"),
        ),
    )
}


def _usernames(rotation: Rotation) -> dict[str, Any]:
    return {"usernames": list(rotation.usernames or [])}


def type_of_kind(kind: str) -> RotationType | None:
    """The Infisical type our *kind* declares (``infisical_type``); None when it declares none or is
    not registered here."""
    from rotation.kinds.registry import KINDS

    try:
        declared = KINDS.get(kind).infisical_type
    except (PluginError, ImportError):
        return None
    if not declared:
        return None
    return TYPES.get(declared) or RotationType(declared, kind, None, _usernames)


def served_type(name: str) -> RotationType | None:
    """The type called *name* when a registered kind declares it."""
    from rotation.kinds.registry import KINDS

    for kind, _ in KINDS.kinds():
        item = type_of_kind(kind)
        if item is not None and item.name == name:
            return item
    return None


def served_type_names() -> list[str]:
    from rotation.kinds.registry import KINDS

    return sorted({item.name for kind, _ in KINDS.kinds() if (item := type_of_kind(kind)) is not None})


def rotation_type(rotation: Rotation) -> str:
    """Infisical's type of the rotation; a kind without one answers under its own name."""
    item = type_of_kind(rotation.kind)
    return item.name if item is not None else rotation.kind


def connection_id(rotation: Rotation) -> str:
    return str(uuid.uuid5(_CONNECTION_NAMESPACE, str(rotation.public_id)))


def connection_shape(rotation: Rotation) -> dict[str, Any]:
    """The root connection: Infisical's ``{app, name, id}`` and the settings that are not secret.
    Root credentials live sealed outside ``config`` and are never read here."""
    config = dict(rotation.config or {})
    item = type_of_kind(rotation.kind)
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
    item = type_of_kind(rotation.kind)
    return (item.parameters if item is not None else _usernames)(rotation)


def _secrets_mapping(rotation: Rotation) -> dict[str, str]:
    item = type_of_kind(rotation.kind)
    mapping = rotation.secrets_mapping or {}
    if item is None or item.mapping is None:
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

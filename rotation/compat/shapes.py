"""Infisical's Secret Rotation v2 object ("sanitized" rotation) built from a ``Rotation``.

Infisical keeps the admin credentials in a separate App Connection; a rotation here holds its root
settings itself, so ``connection`` is derived from the rotation: ``{app, name, id}`` as Infisical
has it (``id`` a stable UUID derived from the rotation's), plus the non-secret settings (host,
port, database, root username, TLS). Never the root password, never a generated password:
Infisical's ``generated-credentials`` route is not served.

Statuses: Infisical knows ``success`` and ``failed``. Ours map onto them where they mean the same
(``retrying`` is a failed attempt that will be retried: ``failed``, with the sanitised reason);
the two states Infisical does not have keep a name of their own: ``pending`` (defined, never
rotated — Infisical issues credentials on create) and ``running`` (a run holds the rotation).
"""

from __future__ import annotations

import uuid
from typing import Any

from rotation.models import Rotation, RotationMode, RotationStatus
from secrets_app.compat.shapes import compat_id, iso

# our kind -> Infisical's rotation type; kinds not listed answer under their own name
TYPE_OF_KIND = {
    "postgresql": "postgres-credentials",
    "mysql": "mysql-credentials",
}
KIND_OF_TYPE = {rotation_type: kind for kind, rotation_type in TYPE_OF_KIND.items()}
# Infisical's rotation type -> the App Connection ``app`` it uses
CONNECTION_APP = {
    "postgres-credentials": "postgres",
    "mysql-credentials": "mysql",
}
# Infisical's secretsMapping field -> ours, per rotation type (the SQL kinds use the same names)
MAPPING_FIELDS: dict[str, dict[str, str]] = {
    "postgres-credentials": {"username": "username", "password": "password"},
    "mysql-credentials": {"username": "username", "password": "password"},
}
STATUS: dict[str, str] = {
    RotationStatus.NEW: "pending",
    RotationStatus.RUNNING: "running",
    RotationStatus.SUCCESS: "success",
    RotationStatus.RETRYING: "failed",
    RotationStatus.FAILED: "failed",
}
CONNECTION_SETTINGS = ("host", "port", "database", "username")
_CONNECTION_NAMESPACE = uuid.UUID("8f0c4d7e-2b6a-4f51-9a3e-5d1c7b9e0a42")  # fixed: the ids stay stable


def rotation_type(rotation: Rotation) -> str:
    return TYPE_OF_KIND.get(rotation.kind, rotation.kind)


def connection_id(rotation: Rotation) -> str:
    return str(uuid.uuid5(_CONNECTION_NAMESPACE, str(rotation.public_id)))


def connection_shape(rotation: Rotation) -> dict[str, Any]:
    """The root connection: Infisical's ``{app, name, id}`` and the settings that are not secret.
    A whitelist, so nothing a kind adds to ``config`` later (or a password) leaks through."""
    config = rotation.config or {}
    kind_type = rotation_type(rotation)
    shape: dict[str, Any] = {
        "app": CONNECTION_APP.get(kind_type, rotation.kind),
        "name": f"{rotation.name}-root",
        "id": connection_id(rotation),
    }
    for key in CONNECTION_SETTINGS:
        if config.get(key) not in (None, ""):
            shape[key] = config[key]
    if kind_type in ("postgres-credentials", "mysql-credentials"):
        shape["sslEnabled"] = bool(config.get("tls")) or config.get("sslmode") in ("require", "verify-full")
    return shape


def _parameters(rotation: Rotation) -> dict[str, Any]:
    from rotation.kinds.registry import KINDS

    users = list(rotation.usernames or [])
    parameters: dict[str, Any] = {
        "username1": users[0] if users else None,
        # single-user mode has no second user (Infisical has no such mode)
        "username2": users[1] if rotation.mode == RotationMode.ALTERNATE and len(users) > 1 else None,
    }
    statement = getattr(KINDS.get(rotation.kind), "statement", "")
    if statement:
        parameters["rotationStatement"] = statement
    requirements = (rotation.config or {}).get("passwordRequirements")
    if requirements:
        parameters["passwordRequirements"] = requirements
    return parameters


def _secrets_mapping(rotation: Rotation) -> dict[str, str]:
    fields = MAPPING_FIELDS.get(rotation_type(rotation))
    mapping = rotation.secrets_mapping or {}
    if fields is None:
        return dict(mapping)
    return {theirs: mapping[ours] for theirs, ours in fields.items() if ours in mapping}


def _message(rotation: Rotation) -> str | None:
    if not rotation.last_error:
        return None
    if rotation.status == RotationStatus.RETRYING:
        return f"{rotation.last_error} - Rotation will be re-attempted shortly"[:1024]
    return rotation.last_error


def rotation_shape(rotation: Rotation) -> dict[str, Any]:
    """The rotation as Infisical's routes answer it (``secretRotation``)."""
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
        "rotationStatus": STATUS.get(rotation.status, rotation.status),
        "lastRotationAttemptedAt": iso(rotation.last_attempted_at),
        "lastRotatedAt": iso(rotation.last_rotated_at),
        "lastRotationJobId": None,
        "lastRotationMessage": _message(rotation),
        "nextRotationAt": iso(rotation.next_run_at),
        "activeIndex": rotation.active_index or 0,
        "createdAt": iso(rotation.created_at),
        "updatedAt": iso(rotation.updated_at),
    }

"""Defining rotations: create (root credentials tested live, target checked against the
organization's allowlist, mapping conflicts refused), update, pause, resume, delete.

Permissions (``rotation.services.permissions``): defining, changing, pausing, resuming and deleting
need ``rotations.manage`` (built-in admins only: it guards the target's root credentials); "rotate
now" needs ``rotations.rotate`` (or ``rotations.manage``); reading definitions (never the root
password) needs ``secrets.read`` at the folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dynamic.services.common import failure_text
from dynamic.targets import TargetRefused
from rotation.kinds.base import IssuedCredentialKind, ProviderError
from rotation.kinds.registry import KINDS, kind_for
from rotation.models import Rotation, RotationMode
from rotation.sealing import open_root, seal_root
from rotation.services.dispatch import rotation_rotate_now
from rotation.services.engine import RotationInProgress, rotation_next_slot
from rotation.services.permissions import require_manage_rotations, require_rotate
from rotation.services.reveal import reveal_slot
from rotation.services.schedule import ScheduleError, parse_cron
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.models import Secret
from secrets_app.plugins import PluginFieldError
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")


@dataclass
class RotationInput:
    name: str
    kind: str
    config: dict[str, Any]
    credentials: dict[str, str] = field(repr=False)
    usernames: list[str]
    secrets_mapping: dict[str, str]
    mode: str = RotationMode.ALTERNATE
    interval_days: int | None = 30
    rotate_at_hour: int = 0
    rotate_at_minute: int = 0
    cron: str = ""
    description: str = ""


def _check(data: RotationInput) -> None:
    if not NAME_RE.match(data.name or ""):
        raise ValidationFailed("name", "lowercase letters, digits and '-' (1-64 characters)")
    KINDS.require(data.kind)
    if data.mode not in RotationMode.values:
        raise ValidationFailed("mode", "must be alternate or single")
    kind = kind_for(data.kind)
    if isinstance(kind, IssuedCredentialKind) and data.mode == RotationMode.SINGLE:
        # The target issues a new key next to the active one and the two alternate.
        raise ValidationFailed("mode", f"{kind.label} rotations alternate two keys; single mode does not apply")
    wanted = kind.usernames_required or (2 if data.mode == RotationMode.ALTERNATE else 1)
    if len(data.usernames) != wanted or len(set(data.usernames)) != wanted:
        what = "one principal" if isinstance(kind, IssuedCredentialKind) else f"{wanted} different username(s)"
        raise ValidationFailed("usernames", f"{kind.label} in {data.mode} mode needs {what}")
    if set(data.secrets_mapping) != set(kind.mapping_fields):
        raise ValidationFailed("secretsMapping", f"must map exactly {', '.join(kind.mapping_fields)}")
    keys = list(data.secrets_mapping.values())
    if len(set(keys)) != len(keys) or not all(isinstance(k, str) and k for k in keys):
        raise ValidationFailed("secretsMapping", "needs distinct, non-empty secret keys")
    try:
        kind.check_config(data.config, data.usernames)
    except PluginFieldError as exc:
        raise ValidationFailed(exc.field, exc.message) from None
    except ValueError as exc:
        raise ValidationFailed("config", str(exc)) from None
    try:
        kind.check_credentials(data.credentials)
    except ValueError as exc:
        raise ValidationFailed("credentials", str(exc)) from None
    if data.cron:
        try:
            parse_cron(data.cron)
        except ScheduleError as exc:
            raise ValidationFailed("cron", str(exc)) from None
    elif data.interval_days is not None and not 1 <= int(data.interval_days) <= 3650:
        raise ValidationFailed("intervalDays", "must be from 1 to 3650")
    if not (0 <= data.rotate_at_hour <= 23 and 0 <= data.rotate_at_minute <= 59):
        raise ValidationFailed("rotateAtUtc", "hours 0-23, minutes 0-59")


def _test_root(
    scope: ProjectScope,
    kind_name: str,
    config: Mapping[str, Any],
    credentials: Mapping[str, str],
    usernames: list[str],
    *,
    creating: bool = False,
) -> None:
    kind = kind_for(kind_name)
    try:
        target = kind.target(organization_id=scope.project.organization_id, config=config, credentials=credentials)
        kind.test_root(target)
    except (TargetRefused, ProviderError) as exc:
        raise ValidationFailed("config", failure_text(exc, list(credentials.values()))) from None
    if isinstance(kind, IssuedCredentialKind):
        try:
            kind.check_principal(target, principal=usernames[0])
            if creating:
                kind.check_new_principal(target, principal=usernames[0])
        except ProviderError as exc:
            raise ValidationFailed("usernames", failure_text(exc, list(credentials.values()))) from None


def _refuse_mapping_conflicts(folder_id: int, keys: list[str], *, exclude: int | None = None) -> None:
    """Keys another rotation owns, or (on create) secrets that already exist, are refused: a
    rotation owns its keys outright (Infisical PR 5461: checked before anything is touched)."""
    for other in Rotation.objects.filter(folder_id=folder_id).exclude(pk=exclude or 0):
        taken = set(other.owned_keys) & set(keys)
        if taken:
            raise Conflict(
                f"{', '.join(sorted(taken))} is owned by rotation {other.name}", fields={"secretsMapping": ["conflict"]}
            )
    if exclude is None:
        existing = list(
            Secret.objects.filter(folder_id=folder_id, key__in=keys, deleted_at__isnull=True).values_list(
                "key", flat=True
            )
        )
        if existing:
            raise Conflict(
                f"{', '.join(sorted(existing))} already exists in the folder; choose new keys for the rotation to own",
                fields={"secretsMapping": ["conflict"]},
            )


def _audit(scope: ProjectScope, rotation: Rotation, action: str, metadata: dict[str, Any]) -> None:
    """One audit event of the caller (*scope*) about *rotation*, at its place."""
    scope.audit(
        action,
        environment=rotation.environment.slug,
        path=rotation.folder.path,
        resource_type="rotation",
        resource_id=str(rotation.public_id),
        metadata=metadata,
    )


def rotation_create(*, scope: ProjectScope, environment: str, path: str, data: RotationInput) -> Rotation:
    """Create a rotation after checking the name, mapping, schedule and target, and logging in
    with the root credentials. Nothing on the target is changed until the first run."""
    env, folder = folder_get(scope, environment, path)
    require_manage_rotations(scope, environment=env.slug, path=folder.path, resource=data.name)
    _check(data)
    if Rotation.objects.filter(folder=folder, name=data.name).exists():
        raise Conflict(f"A rotation named '{data.name}' already exists at {folder.path}", fields={"name": ["taken"]})
    _refuse_mapping_conflicts(folder.pk, list(data.secrets_mapping.values()))
    _test_root(scope, data.kind, data.config, data.credentials, data.usernames, creating=True)
    now = timezone.now()
    try:
        with transaction.atomic():
            rotation = Rotation(
                project=scope.project,
                environment=env,
                folder=folder,
                name=data.name,
                description=data.description[:256],
                kind=data.kind,
                config=dict(data.config),
                mode=data.mode,
                usernames=list(data.usernames),
                secrets_mapping=dict(data.secrets_mapping),
                interval_days=None if data.cron else data.interval_days,
                rotate_at_hour=data.rotate_at_hour,
                rotate_at_minute=data.rotate_at_minute,
                cron=data.cron,
                created_by_label=scope.principal.label,
            )
            rotation.credentials_ciphertext = seal_root(rotation, data.credentials)
            # The first run issues the credential: due now when a schedule exists.
            rotation.next_run_at = now if (data.cron or data.interval_days) else None
            rotation.save()
            _audit(scope, rotation, "rotation.created", _describe(rotation))
    except IntegrityError:
        raise Conflict(f"A rotation named '{data.name}' already exists at {folder.path}") from None
    return rotation


def _describe(rotation: Rotation) -> dict[str, Any]:
    """Audit metadata of a definition: never the root password."""
    return {
        "name": rotation.name,
        "kind": rotation.kind,
        "mode": rotation.mode,
        "usernames": rotation.usernames,
        "secrets_mapping": rotation.secrets_mapping,
        "host": rotation.config.get("host"),
        "interval_days": rotation.interval_days,
        "cron": rotation.cron,
        "paused": rotation.paused,
    }


def rotation_set_paused(*, scope: ProjectScope, rotation: Rotation, paused: bool) -> Rotation:
    """Pause (no scheduled runs; "rotate now" still works) or resume (next slot from now)."""
    require_manage_rotations(
        scope, environment=rotation.environment.slug, path=rotation.folder.path, resource=rotation.name
    )
    with transaction.atomic():
        locked = Rotation.objects.select_for_update().get(pk=rotation.pk)
        locked.paused = paused
        locked.next_run_at = None if paused else reveal_slot(locked, rotation_next_slot(locked, now=timezone.now()))
        locked.save(update_fields=["paused", "next_run_at", "updated_at"])
        _audit(scope, rotation, "rotation.paused" if paused else "rotation.resumed", {"name": rotation.name})
    rotation.refresh_from_db()
    return rotation


def rotation_request_now(*, scope: ProjectScope, rotation: Rotation) -> None:
    """ "Rotate now" for a person or identity: ``rotations.rotate`` (or ``rotations.manage``), the run
    queued (RotationInProgress, 409, while one holds it), and ``rotation.rotate_requested`` audited
    (the run itself records rotation.run_started onwards)."""
    require_rotate(scope, environment=rotation.environment.slug, path=rotation.folder.path, resource=rotation.name)
    rotation_rotate_now(rotation)
    _audit(scope, rotation, "rotation.rotate_requested", {"name": rotation.name})


def rotation_delete(*, scope: ProjectScope, rotation: Rotation) -> None:
    """Delete the definition. The owned secrets stay as they are (the credential they hold keeps
    working); refused while a run holds the rotation."""
    require_manage_rotations(
        scope, environment=rotation.environment.slug, path=rotation.folder.path, resource=rotation.name
    )
    with transaction.atomic():
        locked = Rotation.objects.select_for_update().get(pk=rotation.pk)
        if locked.locked_until and locked.locked_until > timezone.now():
            raise RotationInProgress("A rotation of this credential is running; delete it when it has finished")
        _audit(
            scope,
            rotation,
            "rotation.deleted",
            {"name": rotation.name, "pending_discarded": hasattr(locked, "pending")},
        )
        locked.delete()


def rotation_root_check(rotation: Rotation) -> None:
    """Log in with the stored root credentials (the API's test button; ValidationFailed)."""
    kind = kind_for(rotation.kind)
    credentials = open_root(rotation)
    try:
        target = kind.target(
            organization_id=rotation.project.organization_id, config=rotation.config, credentials=credentials
        )
        kind.test_root(target)
        if isinstance(kind, IssuedCredentialKind):
            kind.check_principal(target, principal=str(rotation.usernames[0]))
    except (TargetRefused, ProviderError) as exc:
        raise ValidationFailed("config", failure_text(exc, list(credentials.values()))) from None


@dataclass
class RotationChange:
    """A PATCH: fields left as None keep their value. New credentials are tested live."""

    description: str | None = None
    interval_days: int | None = None
    rotate_at_hour: int | None = None
    rotate_at_minute: int | None = None
    cron: str | None = None
    credentials: dict[str, str] | None = field(default=None, repr=False)


def rotation_update(*, scope: ProjectScope, rotation: Rotation, change: RotationChange) -> Rotation:
    require_manage_rotations(
        scope, environment=rotation.environment.slug, path=rotation.folder.path, resource=rotation.name
    )
    cron = rotation.cron if change.cron is None else change.cron.strip()
    interval = rotation.interval_days if change.interval_days is None else change.interval_days
    hour = rotation.rotate_at_hour if change.rotate_at_hour is None else change.rotate_at_hour
    minute = rotation.rotate_at_minute if change.rotate_at_minute is None else change.rotate_at_minute
    if cron:
        try:
            parse_cron(cron)
        except ScheduleError as exc:
            raise ValidationFailed("cron", str(exc)) from None
    elif interval is not None and not 1 <= int(interval) <= 3650:
        raise ValidationFailed("intervalDays", "must be from 1 to 3650")
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValidationFailed("rotateAtUtc", "hours 0-23, minutes 0-59")
    if change.credentials is not None:
        try:
            kind_for(rotation.kind).check_credentials(change.credentials)
        except ValueError as exc:
            raise ValidationFailed("credentials", str(exc)) from None
        _test_root(scope, rotation.kind, rotation.config, change.credentials, list(rotation.usernames))
    with transaction.atomic():
        locked = (
            Rotation.objects.select_for_update().select_related("project", "environment", "folder").get(pk=rotation.pk)
        )
        if change.description is not None:
            locked.description = change.description[:256]
        locked.cron, locked.interval_days = cron, (None if cron else interval)
        locked.rotate_at_hour, locked.rotate_at_minute = hour, minute
        if change.credentials is not None:
            locked.credentials_ciphertext = seal_root(locked, change.credentials)
        if not locked.paused and locked.status not in ("retrying",):
            locked.next_run_at = reveal_slot(
                locked, rotation_next_slot(locked, now=timezone.now()) if locked.last_rotated_at else locked.next_run_at
            )
        locked.save()
        _audit(
            scope,
            locked,
            "rotation.updated",
            {**_describe(locked), "credentials_changed": change.credentials is not None},
        )
    return locked

"""Running a rotation: ``rotation_run``. The order of the steps is the guarantee.

1. **Claim** the rotation by compare-and-set on ``locked_until`` (a lease, so a killed worker's
   claim runs out); a second run meanwhile gets ``RotationInProgress`` (409).
2. **Check conflicts before touching the target** (Infisical PR 5461): the folder still exists,
   no other rotation owns one of the mapped keys.
3. **Write-ahead**: if a ``PendingRotation`` exists, an earlier run was interrupted — take *its*
   user and password (never generate a new one over it). Otherwise pick the user (the inactive
   one in alternate mode), generate a password, seal it into a new pending record and **commit**.
4. **Set** the password on the target over the root connection (idempotent: re-applying the same
   password is harmless), then **log in as that user** to verify.
5. **Switch**, in one transaction: new versions of the owned secrets (through the secret service,
   under ``write_gate_bypassed("rotation")`` so an approval policy cannot hold it; the new version
   triggers the project's syncs), ``active_index`` flipped, the pending record deleted, the
   attempt recorded, the next run scheduled.

A crash anywhere before 5 commits leaves the owned secrets on the previous, still valid
credential and the pending record in place; the next run re-applies the same password and
converges. A failure is recorded with a sanitised reason and retried with exponential backoff
(``next_run_at``, picked up by the beat task); after ``STRONGROOM_ROTATION_MAX_ATTEMPTS`` the
status is ``failed``, project admins are notified (``rotation.failed``) and the next attempt is
the next scheduled slot. The pending record survives failures: the password it holds may already
be the user's.

Kinds whose target *issues* the credential (``IssuedCredentialKind``: AWS access keys, Entra
client secrets) take the same claim, conflict check, switch and failure path with their own
write-ahead steps in ``rotation.services.issued``.

Passwords never appear in logs, exceptions, audit metadata or attempt rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from dynamic.providers.templates import generate_password, password_requirements_from
from dynamic.services.common import failure_text
from rotation.kinds.base import IssuedCredentialKind
from rotation.kinds.registry import kind_for
from rotation.models import (
    AttemptOutcome,
    AttemptTrigger,
    PendingRotation,
    Rotation,
    RotationAttempt,
    RotationMode,
    RotationStatus,
)
from rotation.sealing import open_pending, open_root, seal_pending
from rotation.services.schedule import next_run
from rotation.services.scope import rotation_actor, rotation_scope
from secrets_app.errors import Conflict, NotFound
from secrets_app.models import Secret
from secrets_app.services.secrets import SecretInput, secret_create, secret_update
from secrets_app.write_gate import write_gate_bypassed

logger = logging.getLogger("strongroom.rotation")


# Shown on a successful attempt whose login check could not fail (the target let the user in with
# a wrong password too): the password was still changed and switched, but nothing proved it works.
LOGIN_CHECK_PROVES_NOTHING = (
    "Warning: the login check proves nothing here: the server also let {} in with a wrong password "
    "(password authentication is off for Strongroom's address, e.g. 'trust' in pg_hba.conf)."
)


class RotationInProgress(Conflict):
    """Another run holds the rotation. Safe to show."""


class RotationConflict(Exception):
    """The rotation cannot run as configured (checked before the target is touched). Safe to show."""


@dataclass(frozen=True)
class RunResult:
    outcome: str
    attempt_id: int
    rolled_forward: bool = False


def rotation_audit(
    rotation: Rotation, action: str, *, outcome: str = "allow", actor: Any = None, **metadata: Any
) -> None:
    """One audit event about *rotation* (its place, name and kind), inside the caller's
    transaction; *actor* defaults to the rotation itself (system). Never a password."""
    audit_record(
        action=action,
        actor=actor or rotation_actor(rotation),
        outcome=outcome,
        organization_id=rotation.project.organization_id,
        project_id=rotation.project_id,
        environment=rotation.environment.slug,
        path=rotation.folder.path,
        resource_type="rotation",
        resource_id=str(rotation.public_id),
        metadata={"name": rotation.name, "kind": rotation.kind, **metadata},
    )


def rotation_audit_step(rotation: Rotation, action: str, *, outcome: str = "allow", **metadata: Any) -> None:
    """One audit event for a step of the run, in its own transaction."""
    with transaction.atomic():
        rotation_audit(rotation, action, outcome=outcome, **metadata)


def crash_point(step: str) -> None:
    """Test seam: with ``STRONGROOM_ROTATION_TEST_CRASH_AT`` naming *step*, the process kills
    itself with SIGKILL here (no cleanup, no except clause, exactly like a lost machine). Empty in
    production."""
    if getattr(settings, "STRONGROOM_ROTATION_TEST_CRASH_AT", "") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def rotation_next_slot(rotation: Rotation, *, now: dt.datetime) -> dt.datetime | None:
    if rotation.paused:
        return None
    return next_run(
        interval_days=rotation.interval_days,
        hour=rotation.rotate_at_hour,
        minute=rotation.rotate_at_minute,
        cron=rotation.cron,
        last=now,
        now=now,
    )


def _claim(rotation_id: int, now: dt.datetime) -> bool:
    lease = now + dt.timedelta(seconds=int(getattr(settings, "STRONGROOM_ROTATION_LOCK_SECONDS", 300)))
    claimed = (
        Rotation.objects.filter(pk=rotation_id)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=lease, status=RotationStatus.RUNNING, last_attempted_at=now)
    )
    return claimed == 1


def rotation_check_conflicts(rotation: Rotation) -> None:
    """Raise RotationConflict when the rotation cannot switch its secrets: run before the target
    is touched, so a conflict never leaves a changed password behind."""
    keys = rotation.owned_keys
    if len(set(keys)) != len(keys):
        raise RotationConflict("the secrets mapping names one key twice")
    others = Rotation.objects.filter(folder_id=rotation.folder_id).exclude(pk=rotation.pk)
    for other in others:
        taken = set(other.owned_keys) & set(keys)
        if taken:
            raise RotationConflict(f"{', '.join(sorted(taken))} is owned by rotation {other.name}")


def _next_index(rotation: Rotation) -> int:
    if rotation.mode == RotationMode.SINGLE or rotation.active_index is None:
        return 0
    return (rotation.active_index + 1) % len(rotation.usernames)


def _pending_for(rotation: Rotation) -> tuple[PendingRotation, str, bool]:
    """The pending record and its password: the existing one (rolled forward) or a new one,
    committed before this returns."""
    pending = PendingRotation.objects.filter(rotation=rotation).first()
    if pending is not None:
        return pending, open_pending(rotation, pending), True
    index = _next_index(rotation)
    password = generate_password(password_requirements_from(rotation.config.get("passwordRequirements") or None))
    with transaction.atomic():
        pending = PendingRotation(rotation=rotation, user_index=index, username=rotation.usernames[index])
        pending.password_ciphertext = seal_pending(rotation, pending, password)
        pending.save()
    return pending, password, False


def rotation_write_owned(
    rotation: Rotation, values: dict[str, str], *, unchanged: frozenset[str] = frozenset()
) -> list[str]:
    """Write the owned secrets from {mapping field: value} through the secret service, inside the
    caller's transaction (under ``write_gate_bypassed("rotation")``); fields in *unchanged* whose
    secret exists are left alone (no new version, no sync). Returns the keys written."""
    scope = rotation_scope(rotation)
    environment, path = rotation.environment.slug, rotation.folder.path
    written: list[str] = []
    for field, key in rotation.secrets_mapping.items():
        exists = Secret.objects.filter(folder=rotation.folder, key=key, type="shared", deleted_at__isnull=True).exists()
        if field in unchanged and exists:
            continue
        item = SecretInput(key=key, value=values[field])
        if exists:
            secret_update(scope=scope, environment=environment, path=path, key=key, item=item)
        else:
            secret_create(scope=scope, environment=environment, path=path, item=item)
        written.append(key)
    return written


def _switch_secrets(rotation: Rotation, *, username: str, password: str, index: int) -> list[str]:
    """Write the owned secrets (inside the caller's transaction); returns the keys written."""
    kind = kind_for(rotation.kind)
    previous_user = rotation.usernames[rotation.active_index] if rotation.active_index is not None else None
    # Single-user mode: the username is unchanged, so no new version and no sync for it.
    unchanged = frozenset({"username"}) if previous_user == username else frozenset()
    return rotation_write_owned(rotation, kind.secret_values(username=username, password=password), unchanged=unchanged)


def rotation_mark_rotated(
    locked: Rotation, *, attempt: RotationAttempt, trigger: str, finished: dt.datetime, metadata: dict[str, Any]
) -> None:
    """The end of a switch, inside its transaction (*locked* is the row held ``select_for_update``,
    its kind-specific fields already set): status, schedule, attempt and ``rotation.rotated``; the
    reset of the previously active user when a person revealed the value (rotation/services/reveal.py)."""
    from rotation.services.reveal import reveal_after_rotated

    first_run = locked.last_rotated_at is None
    locked.status = RotationStatus.SUCCESS
    locked.last_rotated_at = finished
    locked.last_error = ""
    locked.failed_attempts = 0
    locked.locked_until = None
    locked.next_run_at = rotation_next_slot(locked, now=finished)
    reveal_after_rotated(locked, claimed_at=locked.last_attempted_at, finished=finished, first_run=first_run)
    locked.save()
    RotationAttempt.objects.filter(pk=attempt.pk).update(outcome=AttemptOutcome.SUCCESS, finished_at=finished)
    rotation_audit(locked, "rotation.rotated", trigger=trigger, **metadata, write_gate_bypass="rotation")


def rotation_run(*, rotation_id: int, trigger: str = AttemptTrigger.SCHEDULE) -> RunResult:
    """Run one rotation now (see the module docstring). Raises RotationInProgress when another
    run holds it, NotFound when it was deleted; every other failure is recorded on the rotation
    and returned as ``failed``. Must not run inside an outer transaction: the write-ahead record
    has to be committed before the target is touched."""
    now = timezone.now()
    if not _claim(rotation_id, now):
        if not Rotation.objects.filter(pk=rotation_id).exists():
            raise NotFound("Rotation not found")  # deleted after the run was queued
        raise RotationInProgress("A rotation of this credential is already running; try again when it has finished")
    rotation = Rotation.objects.select_related("project", "environment", "folder").get(pk=rotation_id)
    attempt = RotationAttempt.objects.create(rotation=rotation, trigger=trigger)
    secrets_seen: list[str] = list(rotation.usernames) + [str(rotation.config.get("database") or "")]
    try:
        rotation_audit_step(rotation, "rotation.run_started", trigger=trigger, attempt=str(attempt.public_id))
        rotation_check_conflicts(rotation)
        kind = kind_for(rotation.kind)
        root = open_root(rotation)
        secrets_seen += list(root.values())
        if isinstance(kind, IssuedCredentialKind):
            from rotation.services.issued import issued_rotate

            rolled_forward = issued_rotate(
                rotation, kind=kind, root=root, attempt=attempt, trigger=trigger, secrets_seen=secrets_seen
            )
            return RunResult(outcome=AttemptOutcome.SUCCESS, attempt_id=attempt.pk, rolled_forward=rolled_forward)
        pending, password, rolled_forward = _pending_for(rotation)
        secrets_seen.append(password)
        RotationAttempt.objects.filter(pk=attempt.pk).update(
            user_index=pending.user_index, username=pending.username, rolled_forward=rolled_forward
        )
        rotation_audit_step(
            rotation,
            "rotation.pending_rolled_forward" if rolled_forward else "rotation.pending_recorded",
            user_index=pending.user_index,
            username=pending.username,
        )
        crash_point("after_pending")
        target = kind.target(organization_id=rotation.project.organization_id, config=rotation.config, credentials=root)
        kind.set_password(target, username=pending.username, password=password)
        PendingRotation.objects.filter(pk=pending.pk).update(applied_at=timezone.now())
        rotation_audit_step(
            rotation, "rotation.password_changed", user_index=pending.user_index, username=pending.username
        )
        crash_point("after_alter")
        kind.verify_login(target, username=pending.username, password=password)
        PendingRotation.objects.filter(pk=pending.pk).update(verified_at=timezone.now())
        proves_nothing = kind.accepts_any_password(target, username=pending.username)
        if proves_nothing:
            RotationAttempt.objects.filter(pk=attempt.pk).update(
                error=LOGIN_CHECK_PROVES_NOTHING.format(pending.username)
            )
        rotation_audit_step(
            rotation,
            "rotation.login_verified",
            user_index=pending.user_index,
            username=pending.username,
            check="inconclusive: the target accepts any password" if proves_nothing else "password checked",
        )
        crash_point("after_verify")
        with write_gate_bypassed("rotation"), transaction.atomic():
            locked = (
                Rotation.objects.select_for_update()
                .select_related("project", "environment", "folder")
                .get(pk=rotation.pk)
            )
            written = _switch_secrets(locked, username=pending.username, password=password, index=pending.user_index)
            PendingRotation.objects.filter(pk=pending.pk).delete()
            locked.active_index = pending.user_index
            rotation_mark_rotated(
                locked,
                attempt=attempt,
                trigger=trigger,
                finished=timezone.now(),
                metadata={
                    "active_index": pending.user_index,
                    "username": pending.username,
                    "secrets": written,
                    "rolled_forward": rolled_forward,
                },
            )
        return RunResult(outcome=AttemptOutcome.SUCCESS, attempt_id=attempt.pk, rolled_forward=rolled_forward)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, sanitised
        reason = failure_text(exc, secrets_seen) if not isinstance(exc, RotationConflict) else str(exc)[:240]
        _record_failure(rotation, attempt, reason)
        return RunResult(outcome=AttemptOutcome.FAILED, attempt_id=attempt.pk)


def _record_failure(rotation: Rotation, attempt: RotationAttempt, reason: str) -> None:
    from rotation.services.notify import notify_failed

    max_attempts = int(getattr(settings, "STRONGROOM_ROTATION_MAX_ATTEMPTS", 5))
    base = int(getattr(settings, "STRONGROOM_ROTATION_RETRY_BASE_SECONDS", 60))
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Rotation.objects.select_for_update().select_related("project", "environment", "folder").get(pk=rotation.pk)
        )
        locked.failed_attempts += 1
        final = locked.failed_attempts >= max_attempts
        tries = locked.failed_attempts
        if final:
            from rotation.services.reveal import reveal_retry_slot

            locked.status = RotationStatus.FAILED
            locked.failed_attempts = 0
            locked.next_run_at = reveal_retry_slot(locked, rotation_next_slot(locked, now=now), now=now)
        else:
            locked.status = RotationStatus.RETRYING
            locked.next_run_at = now + dt.timedelta(seconds=base * 2 ** (tries - 1))
        locked.last_error = reason
        locked.locked_until = None
        locked.save()
        RotationAttempt.objects.filter(pk=attempt.pk).update(
            outcome=AttemptOutcome.FAILED, error=reason, finished_at=now
        )
        rotation_audit(
            locked,
            "rotation.failed" if final else "rotation.attempt_failed",
            outcome="error",
            attempt=tries,
            final=final,
            reason=reason,
        )
        if final:
            notify_failed(locked, attempts=tries)
    logger.warning("rotation %s failed (attempt %s, final=%s)", rotation.public_id, tries, final)

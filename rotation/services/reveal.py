"""A reveal schedules the rotation (docs/rotation.md, "A reveal schedules the rotation").

In an environment where reveals count (``Environment.reveal_marks_due``), a person revealing in the
UI the value of a secret an unpaused rotation owns queues that rotation within the environment's
``reveal_rotation_hours`` (0: at once): ``next_run_at`` becomes min(current, now + N h) and
``reveal_requested_at`` marks the next run as a "reveal" run. The core announces the reveal with
``secret_revealed`` after commit; ``rotation_reveal_queue`` is its receiver (connected in
``RotationConfig.ready``), and ``reveal_rotation_name`` answers the core's question "which
rotation owns this secret?" so the reveal control can say so before the value is shown.

Two-user mode leaves the previously active user valid for another interval, and that is the user
whose password was revealed. So the first successful run at or after the reveal also records a
**reset** of the previously active user (``reset_user_index``, or ``reset_key_id`` for kinds
whose target issues keys) due after ``STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES``, time for
consumers to re-read the secrets. ``rotation_reset_run`` (queued by the same beat task as due
rotations) performs it under the engine's claim (``locked_until`` compare-and-set: never during a
run): a fresh random password nobody keeps (``kind.invalidate``) or the key deleted
(``kind.delete``). The reset is dropped when a later rotation already changed that user (it is the
active one again, or a pending record is about to change it). Single-user mode needs no reset.

Audited: ``rotation.reveal_queued`` (the person), ``rotation.reset_scheduled``,
``rotation.previous_user_reset``, ``rotation.reset_dropped``, ``rotation.reset_failed`` (the
rotation). Never a password.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dynamic.providers.templates import generate_password, password_requirements_from
from dynamic.services.common import failure_text
from rotation.kinds.base import IssuedCredentialKind
from rotation.kinds.registry import kind_for
from rotation.models import AttemptTrigger, PendingRotation, Rotation, RotationMode
from rotation.sealing import open_root
from rotation.services.engine import rotation_audit
from secrets_app.models import Environment, Secret, SecretType
from secrets_app.principals import Principal

logger = logging.getLogger("strongroom.rotation")

RESET_RETRY_MAX_SECONDS = 3600


def rotation_owning(*, project_id: int, environment: str, path: str, key: str) -> Rotation | None:
    """The unpaused rotation whose mapping owns *key* at this folder, or None."""
    candidates = Rotation.objects.filter(
        project_id=project_id, environment__slug=environment, folder__path=path, paused=False
    ).select_related("project", "environment", "folder")
    return next((rotation for rotation in candidates if key in rotation.owned_keys), None)


def reveal_rotation_name(project_id: int, environment: str, path: str, key: str) -> str | None:
    """The core's reveal hook (``secrets_app.reveal_rotation``)."""
    rotation = rotation_owning(project_id=project_id, environment=environment, path=path, key=key)
    return rotation.name if rotation is not None else None


def _reveal_hours(rotation: Rotation) -> int:
    return int(
        Environment.objects.filter(pk=rotation.environment_id).values_list("reveal_rotation_hours", flat=True)[0]
    )


def reveal_slot(rotation: Rotation, slot: dt.datetime | None) -> dt.datetime | None:
    """*slot*, or the earlier slot a standing reveal asked for: a schedule edited or resumed after
    a reveal must not push the reveal's run later."""
    if rotation.reveal_requested_at is None:
        return slot
    due = rotation.reveal_requested_at + dt.timedelta(hours=_reveal_hours(rotation))
    return min(slot, due) if slot else due


def reveal_retry_slot(rotation: Rotation, slot: dt.datetime | None, *, now: dt.datetime) -> dt.datetime | None:
    """Where a rotation that failed for good tries next: its next slot, but while a reveal stands
    (the revealed value still works) no later than an hour from now, like a failing reset."""
    if rotation.reveal_requested_at is None:
        return slot
    soon = now + dt.timedelta(seconds=RESET_RETRY_MAX_SECONDS)
    return min(slot, soon) if slot else soon


def rotation_reveal_queue(
    *, project_id: int, environment: str, path: str, key: str, actor: Any, secret_id: int | None = None
) -> Rotation | None:
    """Queue the rotation owning a revealed secret (see the module docstring). Returns the
    rotation, or None when nothing was queued: the environment does not count reveals, the
    revealed row is a personal override, or no unpaused rotation owns the key."""
    if secret_id is not None and not Secret.objects.filter(pk=secret_id, type=SecretType.SHARED).exists():
        return None
    env = Environment.objects.filter(project_id=project_id, slug=environment, reveal_marks_due=True).first()
    if env is None:
        return None
    rotation = rotation_owning(project_id=project_id, environment=environment, path=path, key=key)
    if rotation is None:
        return None
    now = timezone.now()
    hours = env.reveal_rotation_hours
    due = now + dt.timedelta(hours=hours)
    with transaction.atomic():
        locked = Rotation.objects.select_for_update().get(pk=rotation.pk)
        if locked.paused:
            return None
        locked.next_run_at = min(locked.next_run_at, due) if locked.next_run_at else due
        locked.reveal_requested_at = locked.reveal_requested_at or now
        locked.save(update_fields=["next_run_at", "reveal_requested_at", "updated_at"])
        who = Principal.for_user(actor).audit_actor() if actor is not None else None
        rotation_audit(
            rotation,
            "rotation.reveal_queued",
            actor=who,
            key=key,
            within_hours=hours,
            next_run_at=locked.next_run_at.isoformat(),
        )
        if hours == 0:
            from rotation.tasks import rotation_run_task

            transaction.on_commit(partial(rotation_run_task.delay, rotation.pk, str(AttemptTrigger.REVEAL)))
    return locked


def on_secret_revealed(sender: Any, **kwargs: Any) -> None:
    """``secret_revealed`` receiver. Never fails the reveal that caused it: an error is logged by
    rotation-free facts only, and the core has already audited the read."""
    try:
        project = kwargs["project"]
        rotation_reveal_queue(
            project_id=project.pk,
            environment=kwargs["environment"],
            path=kwargs["path"],
            key=kwargs["key"],
            actor=kwargs.get("actor"),
            secret_id=kwargs.get("secret_id"),
        )
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("rotation: could not queue the rotation of a revealed secret")


# --- after the run: schedule the reset ---------------------------------------------------------------


def reveal_after_rotated(
    locked: Rotation, *, claimed_at: dt.datetime | None, finished: dt.datetime, first_run: bool
) -> None:
    """Inside a successful run's switch transaction, on the row held ``select_for_update`` (its
    new ``active_index`` / ``issued_keys`` and ``next_run_at`` already set, not yet saved): when
    a reveal came before this run claimed the rotation, schedule the reset of the previously active
    user (or key) and clear the reveal; a reveal that came during the run keeps its early slot
    for one more run. *first_run*: the rotation had never rotated (no previous user to reset)."""
    revealed = locked.reveal_requested_at
    if revealed is None:
        return
    if claimed_at is not None and revealed > claimed_at:
        # Revealed during this run: maybe the value this run replaced, maybe the new one.
        locked.next_run_at = reveal_slot(locked, locked.next_run_at)
        return
    locked.reveal_requested_at = None
    grace = dt.timedelta(minutes=int(getattr(settings, "STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES", 15)))
    kind = kind_for(locked.kind)
    if isinstance(kind, IssuedCredentialKind):
        previous_key = str((locked.issued_keys or {}).get("previous") or "")
        if not previous_key:
            return
        locked.reset_user_index, locked.reset_key_id = 0, previous_key
        what: dict[str, Any] = {"principal": locked.usernames[0], "key_id": previous_key}
    else:
        if locked.mode != RotationMode.ALTERNATE or first_run or locked.active_index is None:
            return  # single user: the revealed password is the one just changed; first run: nothing revealed
        previous = (locked.active_index + 1) % len(locked.usernames)
        locked.reset_user_index, locked.reset_key_id = previous, ""
        what = {"user_index": previous, "username": locked.usernames[previous]}
    locked.reset_due_at = finished + grace
    locked.reset_failures = 0
    rotation_audit(locked, "rotation.reset_scheduled", due_at=locked.reset_due_at.isoformat(), **what)


# --- the reset ---------------------------------------------------------------------------------------


def rotation_resets_due(now: dt.datetime | None = None) -> list[int]:
    """Ids of rotations with a reset whose grace period is over and no live run holding them."""
    now = now or timezone.now()
    return list(
        Rotation.objects.filter(reset_due_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .order_by("reset_due_at")
        .values_list("pk", flat=True)
    )


def rotation_resets_dispatch_due(now: dt.datetime | None = None) -> int:
    """Queue one reset per due rotation; duplicates are harmless (the reset claims first)."""
    from rotation.tasks import rotation_reset_task

    due = rotation_resets_due(now)
    for rotation_id in due:
        transaction.on_commit(partial(rotation_reset_task.delay, rotation_id))
    return len(due)


def _drop_reason(rotation: Rotation, kind: Any) -> str:
    """Why a due reset is no longer needed ("" when it is): a later rotation changed that user."""
    pending = PendingRotation.objects.filter(rotation=rotation).first()
    if isinstance(kind, IssuedCredentialKind):
        if (rotation.issued_keys or {}).get("previous") != rotation.reset_key_id or not rotation.reset_key_id:
            return "a later rotation already deleted that key"
        if pending is not None:
            return "a rotation in progress deletes that key"
        return ""
    if rotation.mode != RotationMode.ALTERNATE or rotation.reset_user_index is None:
        return "single-user mode: the rotation itself changed the revealed password"
    if rotation.reset_user_index == rotation.active_index:
        return "that user is active again: a later rotation gave it a new password"
    if pending is not None and pending.user_index == rotation.reset_user_index:
        return "a rotation in progress is changing that user's password"
    return ""


def _clear(rotation_id: int) -> None:
    Rotation.objects.filter(pk=rotation_id).update(
        reset_user_index=None, reset_key_id="", reset_due_at=None, reset_failures=0
    )


def rotation_reset_run(*, rotation_id: int) -> str:
    """Perform one due reset (see the module docstring): ``reset``, ``dropped``, ``failed``
    (retried with backoff, never given up: a revealed credential must die), ``not_due`` or
    ``in_progress`` (a run holds the rotation; the beat task tries again). Must not run inside an
    outer transaction."""
    now = timezone.now()
    lease = now + dt.timedelta(seconds=int(getattr(settings, "STRONGROOM_ROTATION_LOCK_SECONDS", 300)))
    claimed = (
        Rotation.objects.filter(pk=rotation_id, reset_due_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=lease)
    )
    if claimed != 1:
        held = Rotation.objects.filter(pk=rotation_id, reset_due_at__lte=now, locked_until__gt=now).exists()
        return "in_progress" if held else "not_due"
    try:
        return _reset(rotation_id, now)
    finally:
        Rotation.objects.filter(pk=rotation_id, locked_until=lease).update(locked_until=None)


def _reset(rotation_id: int, now: dt.datetime) -> str:
    rotation = Rotation.objects.select_related("project", "environment", "folder").get(pk=rotation_id)
    kind = kind_for(rotation.kind)
    issued = isinstance(kind, IssuedCredentialKind)
    what: dict[str, Any] = (
        {"principal": rotation.usernames[0], "key_id": rotation.reset_key_id}
        if issued
        else {"user_index": rotation.reset_user_index, "username": rotation.reset_username}
    )
    reason = _drop_reason(rotation, kind)
    if reason:
        with transaction.atomic():
            _clear(rotation.pk)
            rotation_audit(rotation, "rotation.reset_dropped", reason=reason, **what)
        return "dropped"
    secrets_seen: list[str] = [*rotation.usernames, str(rotation.config.get("database") or "")]
    try:
        root = open_root(rotation)
        secrets_seen += list(root.values())
        target = kind.target(organization_id=rotation.project.organization_id, config=rotation.config, credentials=root)
        if isinstance(kind, IssuedCredentialKind):
            kind.delete(target, principal=rotation.usernames[0], key_id=rotation.reset_key_id)
        else:
            # A fresh random password that nobody keeps: the user stays, its revealed password dies.
            password = generate_password(
                password_requirements_from(rotation.config.get("passwordRequirements") or None)
            )
            secrets_seen.append(password)
            kind.invalidate(target, username=rotation.reset_username, password=password)
            del password
    except Exception as exc:  # noqa: BLE001 - recorded, sanitised, retried
        text = failure_text(exc, secrets_seen)
        base = int(getattr(settings, "STRONGROOM_ROTATION_RETRY_BASE_SECONDS", 60))
        failures = rotation.reset_failures + 1
        retry_at = now + dt.timedelta(seconds=min(base * 2 ** (failures - 1), RESET_RETRY_MAX_SECONDS))
        with transaction.atomic():
            Rotation.objects.filter(pk=rotation.pk).update(reset_failures=failures, reset_due_at=retry_at)
            rotation_audit(
                rotation,
                "rotation.reset_failed",
                outcome="error",
                reason=text,
                attempt=failures,
                retry_at=retry_at.isoformat(),
                **what,
            )
            # Tell the admins once, when the run of failures reaches the rotation's own limit: the
            # revealed value still works until the reset succeeds.
            if failures == int(getattr(settings, "STRONGROOM_ROTATION_MAX_ATTEMPTS", 5)):
                from rotation.services.notify import notify_reset_failed

                who = f"key {rotation.reset_key_id}" if issued else rotation.reset_username
                when = retry_at.strftime("%Y-%m-%d %H:%M UTC")
                notify_reset_failed(rotation, attempts=failures, who=who, reason=text, retry_at=when)
        logger.warning("rotation %s: reset of the previous user failed (attempt %s)", rotation.public_id, failures)
        return "failed"
    with transaction.atomic():
        if issued:
            locked = Rotation.objects.select_for_update().get(pk=rotation.pk)
            if (locked.issued_keys or {}).get("previous") == rotation.reset_key_id:
                locked.issued_keys = {k: v for k, v in locked.issued_keys.items() if k != "previous"}
                locked.save(update_fields=["issued_keys", "updated_at"])
        _clear(rotation.pk)
        rotation_audit(rotation, "rotation.previous_user_reset", **what)
    return "reset"

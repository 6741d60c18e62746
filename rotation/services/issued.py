"""The engine's steps for kinds whose target issues the credential (``IssuedCredentialKind``:
AWS IAM access keys, Entra client secrets). ``rotation_run`` claims the rotation, checks
conflicts and opens the root credentials, then calls ``issued_rotate``; failures raised here take
its retry/backoff/notify path unchanged.

Nothing can be written ahead and rolled forward (the target generates the secret), so the
write-ahead record holds the *intent* before the target is asked and the issued key right after:

1. **No pending record**: commit an intent (``PendingRotation`` with an empty ``key_id``) —
   crash point ``after_pending``.
2. **Retire and clean up** (also when an intent without a key is found: a run died between asking
   the target and recording its answer): delete the *previous* key (the one this rotation
   retires; AWS allows two keys per user), then every key ``orphan_key_ids`` reports that is
   neither the active nor the previous one — the orphan of a dead run. A key older than the
   rotation (made by hand before it) is never an orphan: when such a key and the active one fill
   the kind's ``keys_per_principal``, the run fails with a reason naming that key instead of
   deleting it.
3. **Issue** a key and seal it into the pending record, **committed** at once — crash points
   ``issued_unrecorded`` (issued, not recorded: step 2 of the next run deletes it) and
   ``after_issue``.
4. **Verify** with the new key alone — crash point ``after_verify``.
5. **Switch** in one transaction: new versions of the owned secrets (the secret service, exactly
   as the password path), ``issued_keys`` becomes ``{"active": new, "previous": old active}``,
   the pending record deleted, the attempt and ``rotation.rotated`` recorded.

A pending record *with* a key is rolled forward: verified and switched with that same key, never
issued over — unless the key was deleted outside the rotation (by hand, after it was recorded):
when ``list_key_ids`` no longer has it, the record is discarded (``rotation.pending_discarded``,
with the key id and the reason) and the run goes on from step 2 with a fresh intent, so a deleted
key cannot fail every later run. The list is asked *before* verifying: a deleted key and a new key
the target has not yet replicated are refused alike, so verification cannot tell them apart (and
would wait the kind's whole ``verify_seconds`` for nothing), while the target's own list can. A
record younger than ``verify_seconds`` is never discarded (the list may lag a fresh key): it is
verified as usual, and a refusal is retried by a later run. A key still listed is verified as
usual too; a refusal there is retried, never discarded (eventual consistency).

Between runs the principal holds at most two keys of the rotation's: the active one (in the owned
secrets) and the previous one (still valid one more interval). Deleting a key the target no longer
has is success (``delete`` is idempotent), so a previous key deleted by hand does not stop a run.
Key ids appear in audit metadata; secrets never.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from rotation.kinds.base import IssuedCredential, IssuedCredentialKind, ProviderError, Target
from rotation.models import PendingRotation, Rotation, RotationAttempt
from rotation.sealing import open_issued, seal_issued
from rotation.services.engine import crash_point, rotation_audit_step, rotation_mark_rotated, rotation_write_owned
from rotation.services.schedule import next_cron_run
from secrets_app.write_gate import write_gate_bypassed


def issued_label(rotation: Rotation) -> str:
    """The name a rotation gives its keys where the target keeps one (Entra's displayName): unique
    per rotation, so ``list_key_ids`` can tell its keys from anybody else's."""
    return f"strongroom-rotation-{rotation.public_id}"


def issued_interval(rotation: Rotation) -> dt.timedelta | None:
    """How long one key stays the active one: the rotation's interval; for a cron schedule the
    longest gap between its next slots (an uneven cron must not end a key early); None for a
    rotation without a schedule."""
    if rotation.cron:
        slots = [timezone.now()]
        for _ in range(4):
            slots.append(next_cron_run(rotation.cron, slots[-1]))
        return max(later - earlier for earlier, later in zip(slots[1:], slots[2:], strict=False))
    if rotation.interval_days:
        return dt.timedelta(days=rotation.interval_days)
    return None


def _keys(rotation: Rotation) -> tuple[str, str]:
    keys = rotation.issued_keys or {}
    return str(keys.get("active") or ""), str(keys.get("previous") or "")


def _retire_and_clean(rotation: Rotation, *, kind: IssuedCredentialKind, target: Target, principal: str) -> None:
    """Delete the previous key and every orphan, before a new key is issued."""
    active, previous = _keys(rotation)
    if previous:
        kind.delete(target, principal=principal, key_id=previous)
        keys = {key: value for key, value in (rotation.issued_keys or {}).items() if key != "previous"}
        Rotation.objects.filter(pk=rotation.pk).update(issued_keys=keys)
        rotation.issued_keys = keys
        rotation_audit_step(rotation, "rotation.key_deleted", principal=principal, key_id=previous, reason="previous")
    label = issued_label(rotation)
    listed = kind.orphan_key_ids(target, principal=principal, label=label, since=rotation.created_at)
    for key_id in listed:
        if key_id in (active, previous):
            continue
        kind.delete(target, principal=principal, key_id=key_id)
        rotation_audit_step(rotation, "rotation.key_deleted", principal=principal, key_id=key_id, reason="orphan")
    if kind.keys_per_principal is not None:
        held = kind.list_key_ids(target, principal=principal, label=label)
        if len(held) >= kind.keys_per_principal:
            others = sorted(set(held) - {active})
            raise ProviderError(
                f"{principal} holds {', '.join(others)}, created before this rotation and never deleted by it:"
                f" with the active key that is the limit of {kind.keys_per_principal} keys, so no new key can be"
                " issued. Delete that key by hand, or give the rotation a principal of its own"
            )


def _intent(rotation: Rotation, principal: str) -> PendingRotation:
    with transaction.atomic():
        return PendingRotation.objects.create(
            rotation=rotation, user_index=0, username=principal, password_ciphertext=b"", key_id=""
        )


def _recorded_key_gone(
    rotation: Rotation, pending: PendingRotation, *, kind: IssuedCredentialKind, target: Target, principal: str
) -> bool:
    """Whether the key *pending* holds was deleted outside the rotation: recorded longer ago than
    the kind's ``verify_seconds`` and no longer listed by the target (see the module docstring)."""
    settled = timezone.now() - dt.timedelta(seconds=kind.verify_seconds)
    if pending.applied_at is not None and pending.applied_at > settled:
        return False
    return pending.key_id not in kind.list_key_ids(target, principal=principal, label=issued_label(rotation))


def _discard(rotation: Rotation, pending: PendingRotation, *, principal: str) -> PendingRotation:
    """Replace a pending record whose key is gone by a fresh intent, audited, in one transaction."""
    with transaction.atomic():
        PendingRotation.objects.filter(pk=pending.pk).delete()
        intent = PendingRotation.objects.create(
            rotation=rotation, user_index=0, username=principal, password_ciphertext=b"", key_id=""
        )
        rotation_audit_step(
            rotation,
            "rotation.pending_discarded",
            principal=principal,
            key_id=pending.key_id,
            reason="the recorded key no longer exists in the target (deleted outside the rotation)",
        )
    return intent


def _record(rotation: Rotation, pending: PendingRotation, credential: IssuedCredential) -> None:
    """Seal the issued key into the pending record and commit: from here on every run verifies and
    switches this key."""
    pending.key_id = credential.key_id
    pending.password_ciphertext = seal_issued(rotation, pending, credential)
    pending.applied_at = timezone.now()
    with transaction.atomic():
        pending.save(update_fields=["key_id", "password_ciphertext", "applied_at"])


def issued_rotate(
    rotation: Rotation,
    *,
    kind: IssuedCredentialKind,
    root: Mapping[str, str],
    attempt: RotationAttempt,
    trigger: str,
    secrets_seen: list[str],
) -> bool:
    """Steps 1-5 of the module docstring for a claimed rotation whose conflicts were checked.
    Returns whether a pending key of an earlier run was rolled forward. Raises on any failure
    (the caller records it); adds every secret it handles to *secrets_seen* for scrubbing."""
    principal = str(rotation.usernames[0])
    pending = PendingRotation.objects.filter(rotation=rotation).first()
    rolled_forward = pending is not None
    RotationAttempt.objects.filter(pk=attempt.pk).update(
        user_index=0, username=principal, rolled_forward=rolled_forward
    )
    if pending is None:
        pending = _intent(rotation, principal)
        rotation_audit_step(rotation, "rotation.pending_recorded", principal=principal)
        crash_point("after_pending")
    else:
        rotation_audit_step(rotation, "rotation.pending_rolled_forward", principal=principal, key_id=pending.key_id)
    target = kind.target(organization_id=rotation.project.organization_id, config=rotation.config, credentials=root)

    if pending.key_id:
        credential = open_issued(rotation, pending)
        secrets_seen.append(credential.secret)
        if _recorded_key_gone(rotation, pending, kind=kind, target=target, principal=principal):
            pending = _discard(rotation, pending, principal=principal)
    if not pending.key_id:
        _retire_and_clean(rotation, kind=kind, target=target, principal=principal)
        credential = kind.issue(
            target, principal=principal, label=issued_label(rotation), valid_for=issued_interval(rotation)
        )
        secrets_seen.append(credential.secret)
        crash_point("issued_unrecorded")
        _record(rotation, pending, credential)
        rotation_audit_step(rotation, "rotation.key_issued", principal=principal, key_id=credential.key_id)
        crash_point("after_issue")

    kind.verify(target, principal=principal, credential=credential)
    PendingRotation.objects.filter(pk=pending.pk).update(verified_at=timezone.now())
    rotation_audit_step(rotation, "rotation.key_verified", principal=principal, key_id=credential.key_id)
    crash_point("after_verify")

    with write_gate_bypassed("rotation"), transaction.atomic():
        locked = (
            Rotation.objects.select_for_update().select_related("project", "environment", "folder").get(pk=rotation.pk)
        )
        written = rotation_write_owned(
            locked,
            kind.issued_values(credential, config=locked.config),
            unchanged=frozenset(kind.settings_fields),
        )
        PendingRotation.objects.filter(pk=pending.pk).delete()
        active, _previous = _keys(locked)
        keys = {"active": credential.key_id}
        if active:
            keys["previous"] = active
        if credential.expires_at:
            keys["active_expires_at"] = credential.expires_at
        locked.issued_keys = keys
        locked.active_index = 0
        rotation_mark_rotated(
            locked,
            attempt=attempt,
            trigger=trigger,
            finished=timezone.now(),
            metadata={
                "principal": principal,
                "key_id": credential.key_id,
                "previous_key_id": active,
                "secrets": written,
                "rolled_forward": rolled_forward,
            },
        )
    return rolled_forward

"""Finding due rotations (the beat task) and "rotate now"."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rotation.models import AttemptTrigger, Rotation, RotationStatus
from rotation.services.engine import RotationInProgress


def rotations_due(now: dt.datetime | None = None) -> list[int]:
    """Ids of rotations whose slot has come: not paused, ``next_run_at`` ≤ now, not held by a
    live run (a run whose lease ran out counts as not held: its worker died)."""
    now = now or timezone.now()
    return list(
        Rotation.objects.filter(paused=False, next_run_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .order_by("next_run_at")
        .values_list("pk", flat=True)
    )


def rotations_dispatch_due(now: dt.datetime | None = None) -> int:
    """Queue one run per due rotation; duplicates are harmless (the run claims by compare-and-set)."""
    from rotation.tasks import rotation_run_task

    due = Rotation.objects.filter(pk__in=rotations_due(now)).values_list("pk", "status", "reveal_requested_at")
    for rotation_id, status, revealed_at in due:
        if status == RotationStatus.RETRYING:
            trigger = AttemptTrigger.RETRY
        elif revealed_at is not None:
            trigger = AttemptTrigger.REVEAL  # queued early by a reveal (rotation/services/reveal.py)
        else:
            trigger = AttemptTrigger.SCHEDULE
        transaction.on_commit(partial(rotation_run_task.delay, rotation_id, str(trigger)))
    return len(due)


def rotation_rotate_now(rotation: Rotation) -> None:
    """Queue a manual run. RotationInProgress (409) while a run holds the rotation; the queued
    run itself claims by compare-and-set, so two presses still run once."""
    from rotation.tasks import rotation_run_task

    now = timezone.now()
    if Rotation.objects.filter(pk=rotation.pk, locked_until__gt=now).exists():
        raise RotationInProgress("A rotation of this credential is already running; try again when it has finished")
    transaction.on_commit(partial(rotation_run_task.delay, rotation.pk, str(AttemptTrigger.MANUAL)))

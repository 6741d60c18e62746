"""Celery tasks: thin, ids only. Each calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="rotation.tasks.rotation_run", acks_late=True, reject_on_worker_lost=True)
def rotation_run_task(rotation_id: int, trigger: str = "schedule") -> str:
    """Run one rotation. A run that finds another one holding the rotation does nothing (the
    holder finishes, or its lease runs out and the beat task queues it again)."""
    from rotation.services.engine import RotationInProgress, rotation_run
    from secrets_app.errors import NotFound

    try:
        return rotation_run(rotation_id=rotation_id, trigger=trigger).outcome
    except RotationInProgress:
        return "in_progress"
    except NotFound:
        return "deleted"


@shared_task(name="rotation.tasks.rotation_reset", acks_late=True, reject_on_worker_lost=True)
def rotation_reset_task(rotation_id: int) -> str:
    """Reset the previously active user of a rotation after a reveal (rotation/services/reveal.py)."""
    from rotation.services.reveal import rotation_reset_run

    return rotation_reset_run(rotation_id=rotation_id)  # a deleted rotation: "not_due"


@shared_task(name="rotation.tasks.rotations_dispatch_due")
def rotations_dispatch_due_task() -> int:
    """Beat, every minute: queue every due rotation and every reset whose grace period is over."""
    from rotation.services.dispatch import rotations_dispatch_due
    from rotation.services.reveal import rotation_resets_dispatch_due

    return rotations_dispatch_due() + rotation_resets_dispatch_due()

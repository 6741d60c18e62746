"""Celery tasks: thin, ids only (never values), acks_late + reject_on_worker_lost (a task held by
a killed worker is redelivered). Each calls one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from syncs.services.queue import send_run_message


@shared_task(name="syncs.tasks.sync_run", acks_late=True, reject_on_worker_lost=True)
def sync_run_task(sync_id: int) -> str:
    """One attempt of one sync (claimed by compare-and-set: duplicates are no-ops)."""
    from syncs.services.runs import sync_run_execute

    outcome = sync_run_execute(sync_id=sync_id)
    # Retries and lock waits come back as a delayed message; a delay beyond the broker's
    # visibility timeout is left to the reconciler (a long ETA would be redelivered early).
    if outcome.retry_in is not None and outcome.retry_in <= settings.STRONGROOM_SYNC_RETRY_MAX_SECONDS:
        send_run_message(sync_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="syncs.tasks.syncs_reconcile", acks_late=True, reject_on_worker_lost=True)
def syncs_reconcile_task() -> dict[str, int]:
    from syncs.services.reconcile import syncs_reconcile

    return syncs_reconcile()


@shared_task(name="syncs.tasks.syncs_drift_check", acks_late=True, reject_on_worker_lost=True)
def syncs_drift_check_task() -> int:
    """Fan out one drift check per sync (each its own task, so one slow destination waits alone)."""
    from syncs.services.reconcile import syncs_due_for_drift_check

    sync_ids = syncs_due_for_drift_check()
    for sync_id in sync_ids:
        sync_drift_check_one_task.apply_async(
            args=[sync_id], **({"queue": settings.STRONGROOM_SYNC_QUEUE} if settings.STRONGROOM_SYNC_QUEUE else {})
        )
    return len(sync_ids)


@shared_task(name="syncs.tasks.sync_drift_check", acks_late=True, reject_on_worker_lost=True)
def sync_drift_check_one_task(sync_id: int) -> str:
    from syncs.services.drift import sync_drift_check_safe

    return sync_drift_check_safe(sync_id=sync_id)

"""Celery: the pipeline gate's Callback-mode decision, evaluated and posted to Azure DevOps.
Thin: ids only, acks_late + reject_on_worker_lost; the service claims by compare-and-set."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger("strongroom.governance")


@shared_task(name="governance.gate.tasks.gate_callback", acks_late=True, reject_on_worker_lost=True)
def gate_callback_task(decision_id: int) -> str:
    """Evaluate and post one decision; a transient failure re-queues itself with backoff."""
    from governance.gate.check import gate_callback_execute

    outcome = gate_callback_execute(decision_id=decision_id)
    if outcome.state == "retry":
        enqueue_callback(decision_id, countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="governance.gate.tasks.gate_callbacks_reconcile", acks_late=True, reject_on_worker_lost=True)
def gate_callbacks_reconcile_task() -> int:
    """Beat (every minute): re-send the messages of Callback-mode decisions that were lost."""
    from governance.gate.check import gate_callbacks_reconcile

    due = gate_callbacks_reconcile()
    for decision_id in due:
        enqueue_callback(decision_id)
    return len(due)


def enqueue_callback(decision_id: int, *, countdown: float | None = None) -> None:
    """Send one ``gate_callback`` message. A broker that is down is logged by decision id only."""
    options: dict[str, Any] = {}
    if countdown:
        options["countdown"] = countdown
    try:
        gate_callback_task.apply_async(args=[decision_id], **options)
    except Exception as exc:  # noqa: BLE001 - the check's timeout is the last fallback
        logger.warning("gate decision %s: callback not enqueued (%s)", decision_id, type(exc).__name__)

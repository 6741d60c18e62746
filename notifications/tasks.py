"""Celery tasks: thin, ids only, acks_late + reject_on_worker_lost. Each calls one service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

logger = logging.getLogger("strongroom.notifications")


@shared_task(name="notifications.tasks.delivery_send", acks_late=True, reject_on_worker_lost=True)
def delivery_send(delivery_id: int) -> str:
    """One attempt of one delivery (claimed by compare-and-set: duplicates are no-ops). A retry
    comes back as a delayed message (or, beyond the broker's visibility window, from the reconciler)."""
    from notifications.services.delivery import delivery_execute

    return delivery_execute(delivery_id=delivery_id).status


@shared_task(name="notifications.tasks.deliveries_reconcile", acks_late=True, reject_on_worker_lost=True)
def deliveries_reconcile() -> dict[str, int]:
    from notifications.services.delivery import deliveries_reconcile as reconcile

    return reconcile()


def enqueue_delivery(delivery_id: int, *, countdown: float | None = None) -> None:
    """Send one ``delivery_send`` message. A broker that is down is logged, never fatal: the
    reconciler finds the pending delivery."""
    options: dict[str, Any] = {}
    queue = getattr(settings, "STRONGROOM_NOTIFICATIONS_QUEUE", "")
    if queue:
        options["queue"] = queue
    if countdown:
        options["countdown"] = countdown
    try:
        delivery_send.apply_async(args=[delivery_id], **options)
    except Exception as exc:
        logger.warning("delivery %s not enqueued (%s); the reconciler will", delivery_id, type(exc).__name__)

"""Putting syncs on the queue. The status column is the truth (claimed by compare-and-set by the
run); a Celery message is only a wake-up call, so a lost or duplicated message is harmless: the
reconciler re-sends for syncs that stay QUEUED, and a second message finds nothing to claim."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from syncs.models import SecretSync, SyncStatus

logger = logging.getLogger("strongroom.syncs")


def send_run_message(sync_id: int, *, countdown: float = 0) -> None:
    """Publish a ``sync_run_task`` message (immediately; callers use ``on_commit``)."""
    from syncs.tasks import sync_run_task

    options: dict[str, object] = {"countdown": max(0.0, countdown)}
    if settings.STRONGROOM_SYNC_QUEUE:
        options["queue"] = settings.STRONGROOM_SYNC_QUEUE
    sync_run_task.apply_async(args=[sync_id], **options)


def sync_request_run(
    *, sync_id: int, trigger: str, countdown: float | None = None, source_changed: bool = False
) -> bool:
    """Queue a run unless one is already queued or running (debounce). Returns True when this
    call queued it. A source change always records ``source_changed_at``: a run already in
    progress that started before it is followed by another (``sync_run_execute``)."""
    now = timezone.now()
    if source_changed:
        SecretSync.objects.filter(pk=sync_id).update(source_changed_at=now)
    delay = settings.STRONGROOM_SYNC_DEBOUNCE_SECONDS if countdown is None else countdown
    queued = (
        SecretSync.objects.filter(pk=sync_id)
        .filter(Q(status__in=[SyncStatus.IDLE, SyncStatus.SUCCEEDED, SyncStatus.FAILED]))
        .update(
            status=SyncStatus.QUEUED,
            trigger=trigger,
            queued_at=now,
            next_attempt_at=now + datetime.timedelta(seconds=delay),
            attempts=0,
        )
    )
    if queued:
        transaction.on_commit(lambda: _send_quietly(sync_id, delay))
    return bool(queued)


def _send_quietly(sync_id: int, countdown: float) -> None:
    """A broker that is down must not fail the write that queued the run: the row says QUEUED and
    the reconciler sends the message again once the broker is back."""
    try:
        send_run_message(sync_id, countdown=countdown)
    except Exception as exc:
        logger.warning("sync %s: run message not sent (%s); the reconciler will resend it", sync_id, type(exc).__name__)

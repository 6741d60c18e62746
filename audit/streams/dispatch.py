"""Which streams have work, and putting their deliveries on the queue.

The stream row is the truth; a Celery message is only a wake-up call. ``enqueued_at`` (set by a
compare-and-set here, cleared when a run claims the stream) keeps beat from queueing a second message
for a stream whose first one is still waiting; a message lost on the way (broker restart) is
replaced once the marker is older than the lease. A duplicate message is harmless: the run's
lease (``audit.streams.delivery``) lets one run work a stream at a time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.sealing import audit_sealed_through
from audit.streams.models import AuditStream, StreamState

logger = logging.getLogger("strongroom.audit.streams")


def streams_due_for_delivery() -> list[int]:
    """Mark and return the active streams that have sealed events past their cursor, are not
    backing off, not claimed by a run, and not already queued. Each id is returned to one caller
    only (compare-and-set on ``enqueued_at``)."""
    now = timezone.now()
    through = audit_sealed_through()
    if through == 0:
        return []
    stale = now - timedelta(seconds=settings.STRONGROOM_AUDIT_STREAM_LEASE_SECONDS)
    not_queued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)
    pending = AuditEvent.objects.filter(
        organization_id=OuterRef("organization_id"), id__gt=OuterRef("cursor_event_id"), id__lte=through
    )
    candidates = list(
        AuditStream.objects.filter(state=StreamState.ACTIVE, cursor_event_id__lt=through)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(not_queued)
        .filter(Exists(pending))
        .values_list("pk", flat=True)
    )
    return [pk for pk in candidates if AuditStream.objects.filter(pk=pk).filter(not_queued).update(enqueued_at=now)]


def stream_mark_queued(stream_id: int) -> bool:
    """Mark one stream as queued (a run that stopped with more to do queues its successor)."""
    return AuditStream.objects.filter(pk=stream_id).update(enqueued_at=timezone.now()) == 1


def send_deliver_message(stream_id: int) -> None:
    """Publish one ``audit_stream_deliver`` message now (callers outside a transaction, or on
    commit). A broker that is down is logged, never fatal: dispatch queues the stream again once the
    marker is stale."""
    from audit.streams.tasks import audit_stream_deliver

    options: dict[str, object] = {}
    if settings.STRONGROOM_AUDIT_STREAM_QUEUE:
        options["queue"] = settings.STRONGROOM_AUDIT_STREAM_QUEUE
    try:
        audit_stream_deliver.apply_async(args=[stream_id], **options)
    except Exception as exc:
        logger.warning(
            "audit stream %s: delivery not enqueued (%s); dispatch will retry", stream_id, type(exc).__name__
        )

"""`Secret.last_read_at`, kept off the request path.

A secret read already writes one audit row naming the secrets it returned; instead of a second
write per read, a beat task follows the audit stream and stamps ``Secret.last_read_at``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from secrets_app.models import BookkeepingCursor, Secret

READ_ACTIONS = ("secret.value_read", "secret.values_read")
CURSOR = "secret-last-read"


def secret_last_read_refresh(*, batch_size: int = 5000) -> int:
    """Apply up to *batch_size* new read events to ``last_read_at``. Idempotent (a cursor row,
    locked, remembers the last event applied). Returns how many events were consumed."""
    # Events younger than the seal delay may still have lower-id neighbours in flight; wait for them.
    horizon = timezone.now() - datetime.timedelta(seconds=settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS)
    with transaction.atomic():
        cursor, _ = BookkeepingCursor.objects.select_for_update().get_or_create(name=CURSOR)
        events = list(
            AuditEvent.objects.filter(
                id__gt=cursor.position, action__in=READ_ACTIONS, outcome="allow", occurred_at__lte=horizon
            )
            .order_by("id")
            .values("id", "occurred_at", "metadata")[:batch_size]
        )
        if not events:
            return 0
        newest: dict[object, list[int]] = defaultdict(list)
        for event in events:
            for secret_id in (event["metadata"] or {}).get("ids", []):
                newest[event["occurred_at"]].append(secret_id)
        # Later reads overwrite earlier ones: apply in time order.
        for occurred_at in sorted(newest):  # type: ignore[type-var]
            Secret.objects.filter(pk__in=newest[occurred_at]).update(last_read_at=occurred_at)
        cursor.position = events[-1]["id"]
        cursor.save(update_fields=["position", "updated_at"])
    return len(events)

"""Queue lags, computed when Prometheus scrapes (one worker answers a scrape, so once per scrape).

Every figure comes from the rows the background work is driven by, not from the broker: a Celery
message can be lost and is re-sent by a reconciler, so the rows are what is really waiting. Each is
one aggregate over an indexed status column (``sync_due``, ``lease_due``, ``delivery_due``,
``audit_event_org_id``), plus one query per active audit stream. A family whose query fails is left
out of that scrape and ``strongroom_queue_scrape_errors`` says which (logged, never the reason on the wire).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

logger = logging.getLogger("strongroom.observability")


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def sync_metrics(now: datetime) -> Iterator[Metric]:
    """Syncs queued and due (a retry waiting for its ``next_attempt_at`` is not late yet)."""
    from syncs.models import SecretSync, SyncStatus

    due = SecretSync.objects.filter(status=SyncStatus.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    # A retry has waited since its next_attempt_at, a first run since it was queued.
    row = due.aggregate(count=Count("id"), oldest=Min(Coalesce("next_attempt_at", "queued_at")))
    oldest = row["oldest"]
    yield GaugeMetricFamily("strongroom_sync_queue_depth", "Syncs queued and due to run.", value=row["count"])
    yield GaugeMetricFamily(
        "strongroom_sync_queue_lag_seconds",
        "How long the oldest due sync has waited for a worker (0: none waiting).",
        value=_age(now, oldest) if row["count"] else 0.0,
    )


def lease_metrics(now: datetime) -> Iterator[Metric]:
    """Dynamic-secret leases past their expiry (or asked to be revoked) and not revoked yet."""
    from dynamic.models import Lease, LeaseStatus

    pending = Lease.objects.filter(status__in=[LeaseStatus.ACTIVE, LeaseStatus.REVOKING, LeaseStatus.FAILED]).filter(
        Q(expire_at__lte=now) | Q(revoke_requested_at__isnull=False)
    )
    row = pending.aggregate(
        count=Count("id"), expired=Min("expire_at", filter=Q(expire_at__lte=now)), requested=Min("revoke_requested_at")
    )
    oldest = min((t for t in (row["expired"], row["requested"]) if t is not None), default=None)
    irrevocable = Lease.objects.filter(status=LeaseStatus.IRREVOCABLE).count()
    yield GaugeMetricFamily(
        "strongroom_lease_revocations_pending",
        "Leases past their expiry or asked to be revoked, not revoked yet.",
        value=row["count"],
    )
    yield GaugeMetricFamily(
        "strongroom_lease_revocation_lag_seconds",
        "Since when the oldest pending revocation has been due (0: none pending).",
        value=_age(now, oldest),
    )
    yield GaugeMetricFamily(
        "strongroom_leases_irrevocable",
        "Leases whose revocation retries ran out (admins were alerted; force-revoke remains).",
        value=irrevocable,
    )


def notification_metrics(now: datetime) -> Iterator[Metric]:
    """Deliveries due and not delivered (daily-digest deliveries wait on purpose and are left out)."""
    from notifications.models import Delivery, DeliveryStatus

    due = Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING], digest=False).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    row = due.aggregate(count=Count("id"), oldest=Min(Coalesce("next_attempt_at", "created_at")))
    oldest = row["oldest"]
    yield GaugeMetricFamily(
        "strongroom_notification_deliveries_pending",
        "Notification deliveries due and not delivered.",
        value=row["count"],
    )
    yield GaugeMetricFamily(
        "strongroom_notification_delivery_lag_seconds",
        "How long the oldest due delivery has waited (0: none waiting).",
        value=_age(now, oldest) if row["count"] else 0.0,
    )


def audit_metrics(now: datetime) -> Iterator[Metric]:
    """Events not sealed into the hash chain yet, and each active audit stream kind's lag."""
    from audit.models import AuditEvent
    from audit.sealing import audit_sealed_through
    from audit.streams.alerts import stream_lag_seconds
    from audit.streams.models import AuditStream, StreamState

    sealed_through = audit_sealed_through()
    unsealed = (
        AuditEvent.objects.filter(id__gt=sealed_through).order_by("id").values_list("occurred_at", flat=True).first()
    )
    yield GaugeMetricFamily(
        "strongroom_audit_unsealed_lag_seconds",
        "Age of the oldest audit event not sealed into its chain yet (sealing runs every 5 s).",
        value=_age(now, unsealed),
    )
    lag = GaugeMetricFamily(
        "strongroom_audit_stream_lag_seconds",
        "Per stream kind, the largest age of an event an active stream has not delivered (0: caught up).",
        labels=("kind",),
    )
    streams = GaugeMetricFamily(
        "strongroom_audit_streams", "Audit streams by kind and state.", labels=("kind", "state")
    )
    worst: dict[str, float] = {}
    counts: dict[tuple[str, str], int] = {}
    for stream in AuditStream.objects.only("id", "kind", "state", "organization_id", "cursor_event_id"):
        counts[(stream.kind, stream.state)] = counts.get((stream.kind, stream.state), 0) + 1
        if stream.state == StreamState.ACTIVE:
            worst[stream.kind] = max(worst.get(stream.kind, 0.0), float(stream_lag_seconds(stream, now=now)))
    for kind, seconds in sorted(worst.items()):
        lag.add_metric((kind,), seconds)
    for (kind, state), count in sorted(counts.items()):
        streams.add_metric((kind, state), count)
    yield lag
    yield streams


SOURCES: dict[str, Callable[[datetime], Iterator[Metric]]] = {
    "syncs": sync_metrics,
    "leases": lease_metrics,
    "notifications": notification_metrics,
    "audit": audit_metrics,
}


class QueueLagCollector:
    """A prometheus-client collector; ``collect()`` runs the queries above."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        errors = GaugeMetricFamily(
            "strongroom_queue_scrape_errors",
            "1 when this scrape could not read a queue's lag (see the server log), else 0.",
            labels=("queue",),
        )
        for name, source in SOURCES.items():
            try:
                metrics = list(source(now))
            except Exception:
                logger.exception("metrics: reading the %s queue lag failed", name)
                errors.add_metric((name,), 1)
                continue
            errors.add_metric((name,), 0)
            yield from metrics
        yield errors

"""Celery interface to the delivery engine. Thin: ids only, each task calls one service;
acks_late + reject_on_worker_lost (a run killed mid-batch is redelivered; the lease and the cursor
make a duplicate run harmless)."""

from __future__ import annotations

from celery import shared_task

from audit.streams import alerts, delivery, dispatch


@shared_task(name="audit.streams.tasks.audit_streams_dispatch", acks_late=True, ignore_result=True)
def audit_streams_dispatch() -> int:
    """Beat-driven (config/settings.py, every STRONGROOM_AUDIT_STREAM_DISPATCH_SECONDS): queue one
    delivery per stream with sealed events past its cursor that is due and not already queued."""
    stream_ids = dispatch.streams_due_for_delivery()
    for stream_id in stream_ids:
        dispatch.send_deliver_message(stream_id)
    return len(stream_ids)


@shared_task(
    name="audit.streams.tasks.audit_stream_deliver", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def audit_stream_deliver(stream_id: int) -> str:
    """One run of one stream. A run that stopped at its batch budget queues its successor at once,
    so a long backlog drains at full speed without waiting for beat."""
    report = delivery.stream_deliver(stream_id=stream_id)
    if report.more and dispatch.stream_mark_queued(stream_id):
        dispatch.send_deliver_message(stream_id)
    return report.outcome


@shared_task(name="audit.streams.tasks.audit_streams_lag_check", acks_late=True, ignore_result=True)
def audit_streams_lag_check() -> int:
    """Beat-driven (every STRONGROOM_AUDIT_STREAM_LAG_CHECK_SECONDS): lag alerts and their follow-ups."""
    return sum(1 for check in alerts.streams_lag_check() if check.alerted or check.recovered)

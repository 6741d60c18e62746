"""Sending deliveries: claimed by compare-and-set, retried with exponential backoff and jitter
(honouring Retry-After), final on 401/403/``invalid_auth``/``channel_not_found``; every outcome is
visible on the delivery (status, attempts, last error) and a sent or finally failed delivery is
audited (ids only). Daily digests collect a channel's digest deliveries into one message.

Correctness never depends on one Celery message arriving: ``deliveries_reconcile`` (beat)
re-enqueues pending deliveries whose message got lost and frees claims of dead workers.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.models import Outcome
from audit.services import AuditActor, audit_record
from notifications.channels.base import (
    ChannelContext,
    DeliveryError,
    FinalDeliveryError,
    RenderedMessage,
    SendResult,
    TransientDeliveryError,
)
from notifications.channels.registry import CHANNELS
from notifications.models import Delivery, DeliveryAction, DeliveryStatus, NotificationChannel
from notifications.services.channels import channel_context, scrub, secret_strings
from secrets_app.principals import Principal

logger = logging.getLogger("strongroom.notifications")
ACTOR = AuditActor(type="system", id="notifications", label="notifications")


class _Skip(Exception):
    """Nothing to send (channel disabled or deleted, person without an address)."""


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # sent | retrying | failed | skipped | not_claimed
    retry_in: float | None = None


def retry_delays() -> list[float]:
    return [
        float(value) for value in getattr(settings, "STRONGROOM_NOTIFICATIONS_RETRY_DELAYS", [30, 120, 600, 1800, 7200])
    ]


def max_attempts() -> int:
    """The first attempt plus one retry per delay."""
    return len(retry_delays()) + 1


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after *attempt* failed: the schedule's delay with ±20 %
    jitter, at least what the destination asked for (capped)."""
    delays = retry_delays() or [30.0]
    delay = delays[min(attempt, len(delays)) - 1] * random.uniform(0.8, 1.2)  # noqa: S311  (jitter, not a secret)
    if retry_after:
        cap = float(getattr(settings, "STRONGROOM_NOTIFICATIONS_RETRY_AFTER_MAX_SECONDS", 3600))
        delay = max(delay, min(retry_after, cap))
    return delay


def render(delivery: Delivery) -> RenderedMessage:
    notification = delivery.notification
    facts = tuple((str(label), str(value)) for label, value in notification.facts or [])
    title, summary = notification.title, notification.summary
    if delivery.action == DeliveryAction.FOLLOW_UP:
        follow_up = notification.follow_up or {}
        title = follow_up.get("title") or notification.title
        summary = follow_up.get("summary") or f"{notification.title}: {notification.resolved_status}."
        facts = tuple((str(label), str(value)) for label, value in follow_up.get("facts") or [])
    return RenderedMessage(
        title=title,
        summary=summary,
        facts=facts,
        link=delivery.link,
        link_label=notification.link_label,
        severity=notification.severity,
        event_kind=notification.event_kind,
        status_text=notification.resolved_status,
        follow_up=delivery.action == DeliveryAction.FOLLOW_UP,
    )


def _person_context(address: str) -> ChannelContext:
    return ChannelContext(id=None, name=address, config={}, credentials={})


def _perform(delivery: Delivery) -> SendResult:
    message = render(delivery)
    if delivery.recipient_user_id is not None and delivery.channel_id is None:
        person = delivery.recipient_user
        address = str(getattr(person, "email", "") or "")
        if person is None or not address or not person.is_active:
            raise _Skip("the person has no active e-mail address")
        return CHANNELS.get("email").send(_person_context(address), message, recipients=[address])
    channel = delivery.channel
    if channel is None:
        raise _Skip("the channel was deleted")
    if not channel.enabled:
        raise _Skip("the channel is disabled")
    kind = CHANNELS.get(channel.kind)
    ctx = channel_context(channel)
    if delivery.action == DeliveryAction.UPDATE:
        original = delivery.replaces
        if original is None or original.status in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED):
            raise _Skip("the original message was not sent")
        if original.status != DeliveryStatus.SENT:
            raise TransientDeliveryError("waiting for the original message to be sent")
        return kind.update(ctx, message, original.external_ref or {})
    return kind.send(ctx, message)


def _audit(delivery: Delivery, action: str, outcome: str = Outcome.ALLOW, **extra: Any) -> None:
    notification = delivery.notification
    channel = delivery.channel
    audit_record(
        action=action,
        actor=ACTOR,
        outcome=outcome,
        organization_id=notification.organization_id,
        project_id=notification.project_id,
        resource_type="notification_delivery",
        resource_id=str(delivery.pk),
        metadata={
            "notification": notification.pk,
            "event_kind": notification.event_kind,
            "delivery_action": delivery.action,
            "channel": str(channel.public_id) if channel is not None else None,
            "channel_kind": channel.kind if channel is not None else ("email" if delivery.recipient_user_id else None),
            "recipient_user": delivery.recipient_user_id,
            "attempts": delivery.attempts,
            **extra,
        },
    )


def delivery_execute(*, delivery_id: int) -> DeliveryOutcome:
    """One attempt of one delivery. Idempotent: a delivery not pending (or not yet due) is left
    alone, so a duplicate message is a no-op."""
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, digest=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return DeliveryOutcome("not_claimed")
    delivery = Delivery.objects.select_related("notification", "channel", "recipient_user", "replaces").get(
        pk=delivery_id
    )
    try:
        result = _perform(delivery)
    except _Skip as skip:
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SKIPPED, last_error=str(skip)[:240]
        )
        return DeliveryOutcome("skipped")
    except DeliveryError as exc:
        return _failed(delivery, exc)
    except Exception as exc:  # SDK text may quote a URL with its secret: the class name only
        logger.warning("delivery %s: unexpected %s", delivery.pk, type(exc).__name__)
        return _failed(delivery, TransientDeliveryError(f"unexpected error ({type(exc).__name__})"))
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
            external_ref=result.external_ref,
            last_error="",
            next_attempt_at=None,
        )
        if updated:
            _audit(delivery, "notification.sent")
    return DeliveryOutcome("sent")


def _failed(delivery: Delivery, exc: DeliveryError) -> DeliveryOutcome:
    secrets = secret_strings(delivery.channel) if delivery.channel is not None else []
    message = scrub(str(exc) or type(exc).__name__, secrets)
    now = timezone.now()
    if exc.retryable and delivery.attempts < max_attempts():
        delay = backoff(delivery.attempts, exc.retry_after)
        countdown_max = float(getattr(settings, "STRONGROOM_NOTIFICATIONS_COUNTDOWN_MAX_SECONDS", 300))
        enqueue = delay <= countdown_max
        due = now + timedelta(seconds=delay)
        fields: dict[str, Any] = {"status": DeliveryStatus.PENDING, "last_error": message, "next_attempt_at": due}
        if enqueue:
            fields["enqueued_at"] = due  # the reconciler leaves it to this message until then
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**fields)
        logger.info("delivery %s attempt %s failed, retry in %.0fs: %s", delivery.pk, delivery.attempts, delay, message)
        if enqueue:
            from notifications.tasks import enqueue_delivery

            transaction.on_commit(lambda: enqueue_delivery(delivery.pk, countdown=delay))
        return DeliveryOutcome("retrying", retry_in=delay)
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED, last_error=message, next_attempt_at=None
        )
        if updated:
            _audit(delivery, "notification.failed", Outcome.ERROR, error=message, final=True)
    logger.warning("delivery %s failed for good after %s attempt(s): %s", delivery.pk, delivery.attempts, message)
    return DeliveryOutcome("failed")


def delivery_retry(*, principal: Principal, delivery: Delivery) -> Delivery:
    """An admin's "retry now" on a failed delivery: back to pending with a fresh attempt budget."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None, enqueued_at=timezone.now()
        )
    from notifications.services.messages import enqueue_on_commit

    enqueue_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def deliveries_reconcile() -> dict[str, int]:
    """Beat: free claims held by dead workers, re-enqueue pending deliveries whose message got lost
    (due and not enqueued for ``STRONGROOM_NOTIFICATIONS_LOST_SECONDS``), send due digests."""
    from notifications.tasks import enqueue_delivery

    now = timezone.now()
    stale_after = float(getattr(settings, "STRONGROOM_NOTIFICATIONS_STALE_SECONDS", 300))
    lost_after = float(getattr(settings, "STRONGROOM_NOTIFICATIONS_LOST_SECONDS", 300))
    freed = Delivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - timedelta(seconds=stale_after)
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=now)
    due = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, digest=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - timedelta(seconds=lost_after)))
        .values_list("pk", flat=True)[:500]
    )
    if due:
        Delivery.objects.filter(pk__in=due).update(enqueued_at=now)
        for delivery_id in due:
            enqueue_delivery(delivery_id)
    digests = digests_send()
    return {"freed": freed, "requeued": len(due), "digests": digests}


def digests_send(*, force: bool = False) -> int:
    """One message per channel holding digest deliveries, at most once a day per channel (the
    oldest waiting delivery is a day old, or *force*). Returns the number of digests sent."""
    now = timezone.now()
    period = timedelta(seconds=float(getattr(settings, "STRONGROOM_NOTIFICATIONS_DIGEST_SECONDS", 86400)))
    waiting = Delivery.objects.filter(status=DeliveryStatus.PENDING, digest=True, channel__isnull=False).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    sent = 0
    for channel_id in set(waiting.values_list("channel_id", flat=True)):
        rows = waiting.filter(channel_id=channel_id)
        oldest = rows.order_by("created_at").values_list("created_at", flat=True).first()
        retrying = rows.filter(attempts__gt=0).exists()
        if not force and not retrying and (oldest is None or oldest > now - period):
            continue
        ids = list(rows.values_list("pk", flat=True)[:200])
        claimed = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
        if not claimed:
            continue
        if _digest_send_one(channel_id, ids):
            sent += 1
    return sent


def _digest_send_one(channel_id: int, ids: list[int]) -> bool:
    deliveries = list(
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING)
        .select_related("notification", "channel")
        .order_by("created_at")
    )
    channel: NotificationChannel | None = deliveries[0].channel if deliveries else None
    if channel is None:
        return False
    items = tuple(
        (
            d.notification.title + (f" — {d.notification.resolved_status}" if d.notification.resolved_status else ""),
            d.notification.summary,
            d.link,
        )
        for d in deliveries
    )
    message = RenderedMessage(
        title=f"Strongroom daily digest: {len(items)} notification(s)",
        summary=f"What happened in the last day, for channel {channel.name}.",
        digest_items=items,
        event_kind="notifications.digest",
    )
    try:
        if not channel.enabled:
            raise FinalDeliveryError("the channel is disabled")
        CHANNELS.get(channel.kind).send(channel_context(channel), message)
    except Exception as exc:
        error = (
            exc
            if isinstance(exc, DeliveryError)
            else TransientDeliveryError(f"unexpected error ({type(exc).__name__})")
        )
        for delivery in deliveries:
            _failed(delivery, error)
        return False
    with transaction.atomic():
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries], status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
        )
        for delivery in deliveries:
            _audit(delivery, "notification.sent", digest=True)
    return True

"""Recording notifications and their deliveries; follow-ups when the subject is settled.

Callers (approvals, syncs, later leases and rotation) describe an event with a :class:`Message`
made of names, ids and people — never a secret value — and a ``subject_ref`` naming the thing it
is about. Deliveries are sent by Celery after the caller's transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.channels.registry import CHANNELS
from notifications.models import (
    ChannelRoute,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    Severity,
)
from notifications.render import one_line

logger = logging.getLogger("strongroom.notifications")


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Message:
    event_kind: str  # e.g. "approvals.change_request.opened"
    title: str  # "Secret change request"
    summary: str  # one plain-text sentence; may contain user text (escaped per channel)
    facts: tuple[Fact, ...] = ()  # Project, Environment, Path, Keys, Requested by, Reason, Expires ...
    link_label: str = "Review request"
    severity: str = "info"  # info | warning | critical


def event_kind_matches(pattern: str, event_kind: str) -> bool:
    """``*`` matches everything; ``approvals.*`` and ``approvals`` match ``approvals`` and every
    ``approvals.…``; otherwise a whole-segment prefix (``syncs.failed`` matches ``syncs.failed.final``
    but not ``syncs.failedover``)."""
    pattern = pattern.strip()
    if pattern in ("*", ""):
        return pattern == "*"
    prefix = pattern[:-2] if pattern.endswith(".*") else pattern
    return event_kind == prefix or event_kind.startswith(prefix + ".")


def _matching_channels(
    organization_id: int, project_id: int | None, event_kind: str
) -> dict[int, tuple[NotificationChannel, bool]]:
    """channel id -> (channel, digest) for every enabled channel with a matching route. A channel
    matched by an immediate route and a digest route gets the immediate message only."""
    routes = ChannelRoute.objects.filter(
        channel__organization_id=organization_id, channel__enabled=True
    ).select_related("channel")
    routes = (
        routes.filter(Q(project__isnull=True) | Q(project_id=project_id))
        if project_id
        else routes.filter(project__isnull=True)
    )
    matched: dict[int, tuple[NotificationChannel, bool]] = {}
    for route in routes:
        if not any(event_kind_matches(str(pattern), event_kind) for pattern in route.event_kinds or []):
            continue
        previous = matched.get(route.channel_id)
        digest = route.digest and (previous is None or previous[1])
        matched[route.channel_id] = (route.channel, digest)
    return matched


def _link(link_for: Callable[[str], str] | None, key: str) -> str:
    if link_for is None:
        return ""
    try:
        link = str(link_for(key) or "")
    except Exception:
        logger.warning("notification link for %s could not be built", key.split(":")[0])
        return ""
    return link if link.startswith(("https://", "http://")) else ""


def notification_send(
    *,
    organization_id: int,
    project_id: int | None,
    message: Message,
    subject_ref: str,
    people: Sequence[AbstractBaseUser] = (),
    link_for: Callable[[str], str] | None = None,
) -> Notification:
    """Record the notification and one Delivery per person (e-mail) and per org channel whose route
    matches (project, event kind); deliveries are sent by Celery after the surrounding transaction
    commits. ``link_for(recipient_key)`` gives the absolute link for a recipient: recipient_key is
    "user:<pk>" for a person and "channel:<public_id>" for a channel. Never pass a secret value in
    a Message."""
    severity = message.severity if message.severity in Severity.values else Severity.INFO
    with transaction.atomic():
        notification = Notification.objects.create(
            organization_id=organization_id,
            project_id=project_id,
            event_kind=one_line(message.event_kind, 120),
            subject_ref=subject_ref[:200],
            title=one_line(message.title, 200),
            summary=(message.summary or "")[:2000],
            facts=[[one_line(fact.label, 80), str(fact.value)[:1000]] for fact in message.facts][:20],
            link_label=one_line(message.link_label, 80),
            severity=severity,
        )
        now = timezone.now()
        deliveries: list[Delivery] = []
        seen_people: set[Any] = set()
        for person in people:
            if person.pk in seen_people:
                continue
            seen_people.add(person.pk)
            address = str(getattr(person, "email", "") or "")
            skipped = not address or not getattr(person, "is_active", True)
            deliveries.append(
                Delivery(
                    notification=notification,
                    recipient_user_id=person.pk,
                    recipient_label=address[:254] or f"user {person.pk}",
                    link=_link(link_for, f"user:{person.pk}"),
                    status=DeliveryStatus.SKIPPED if skipped else DeliveryStatus.PENDING,
                    last_error="no e-mail address" if not address else ("deactivated" if skipped else ""),
                    enqueued_at=None if skipped else now,
                )
            )
        for channel, digest in _matching_channels(organization_id, project_id, notification.event_kind).values():
            deliveries.append(
                Delivery(
                    notification=notification,
                    channel=channel,
                    recipient_label=channel.name,
                    link=_link(link_for, f"channel:{channel.public_id}"),
                    digest=digest,
                    enqueued_at=None if digest else now,
                )
            )
        created = Delivery.objects.bulk_create(deliveries)
        enqueue_on_commit([d.pk for d in created if d.status == DeliveryStatus.PENDING and not d.digest])
    return notification


def notification_follow_up(
    *, subject_ref: str, status_text: str, message: Message | None = None, final: bool = True
) -> None:
    """The thing a notification was about moved on. *final* (merged / rejected / expired): Slack bot
    messages are replaced with chat.update (status shown, no longer 'pending'); webhook channels
    and e-mails get a short follow-up message. Not *final* (approved, waiting for the merge): only
    messages that can be edited in place show the new status, nobody gets a new message.
    Recorded on the Notification rows of that subject_ref. Idempotent: repeating the current status
    sends nothing, and after a final status nothing more is sent."""
    status_text = one_line(status_text, 200) or "Settled"
    new: list[Delivery] = []
    with transaction.atomic():
        notifications = list(
            Notification.objects.select_for_update()
            .filter(subject_ref=subject_ref[:200], resolved_at__isnull=True)
            .exclude(resolved_status=status_text)
        )
        now = timezone.now()
        for notification in notifications:
            notification.resolved_status = status_text
            notification.resolved_at = now if final else None
            if message is not None:
                notification.follow_up = {
                    "title": one_line(message.title, 200),
                    "summary": (message.summary or "")[:2000],
                    "facts": [[one_line(fact.label, 80), str(fact.value)[:1000]] for fact in message.facts][:20],
                }
            notification.save(update_fields=["resolved_status", "resolved_at", "follow_up"])
            originals = notification.deliveries.filter(action=DeliveryAction.SEND, digest=False).select_related(
                "channel"
            )
            for original in originals:
                if original.status in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.PENDING):
                    # A pending original is rendered with the status when it goes out: nothing to add.
                    continue
                if original.channel_id is not None and original.channel is None:
                    continue
                updatable = original.channel is not None and _supports_update(original.channel.kind)
                if not final and not updatable:
                    continue
                new.append(
                    Delivery(
                        notification=notification,
                        channel=original.channel,
                        recipient_user_id=original.recipient_user_id,
                        recipient_label=original.recipient_label,
                        link=original.link,
                        action=DeliveryAction.UPDATE if updatable else DeliveryAction.FOLLOW_UP,
                        replaces=original,
                        enqueued_at=now,
                    )
                )
        created = Delivery.objects.bulk_create(new)
        enqueue_on_commit([delivery.pk for delivery in created])


def _supports_update(kind: str) -> bool:
    try:
        return CHANNELS.get(kind).supports_update
    except Exception:
        return False


def enqueue_on_commit(delivery_ids: list[int]) -> None:
    """Send one ``delivery_send`` message per delivery once the transaction commits. A broker that
    is down loses nothing: the reconciler re-enqueues pending deliveries."""
    if not delivery_ids:
        return

    def send() -> None:
        from notifications.tasks import enqueue_delivery

        for delivery_id in delivery_ids:
            enqueue_delivery(delivery_id)

    transaction.on_commit(send)

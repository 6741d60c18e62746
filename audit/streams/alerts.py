"""Lag alerts: an organization's admins hear once when a stream falls behind, and once when it caught up.

Lag is measured from the organization's events after the stream's cursor (sealed or not yet: what
the SIEM does not hold): its age is the age of the oldest of them. Above the stream's
``lag_alert_seconds`` one ``audit.stream_lagging`` notification goes to the org admins (and any
org channel routed ``audit.*``); ``lag_alerted_at`` marks it outstanding, so later checks send
nothing more. Back under the threshold, the mark is cleared and the same notification gets its
follow-up ("caught up"). Both transitions are compare-and-sets: concurrent checks send each message once.
Paused streams are not checked (pausing is deliberate; an outstanding alert stays until the stream
runs and catches up).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.streams.models import AuditStream, StreamState
from notifications.services import Fact, Message, notification_follow_up, notification_send
from secrets_app.models import OrgRole

logger = logging.getLogger("strongroom.audit.streams")

EVENT_KIND = "audit.stream_lagging"


@dataclass(frozen=True)
class LagCheck:
    stream_id: int
    lag_seconds: int
    alerted: bool = False  # this check sent the alert
    recovered: bool = False  # this check sent the follow-up


def stream_lag_seconds(stream: AuditStream, *, now: datetime | None = None) -> int:
    """Age in seconds of the organization's oldest event after the cursor (0: nothing pending)."""
    oldest = (
        AuditEvent.objects.filter(organization_id=stream.organization_id, id__gt=stream.cursor_event_id)
        .order_by("id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if oldest is None:
        return 0
    return max(0, int(((now or timezone.now()) - oldest).total_seconds()))


def streams_lag_check() -> list[LagCheck]:
    """Check every active stream (beat, every ``STRONGROOM_AUDIT_STREAM_LAG_CHECK_SECONDS``)."""
    results = []
    for stream_id in AuditStream.objects.filter(state=StreamState.ACTIVE).values_list("pk", flat=True):
        try:
            results.append(stream_lag_check(stream_id=stream_id))
        except Exception:  # one stream's failure never stops the others' checks
            logger.exception("audit stream %s: lag check failed", stream_id)
    return results


def stream_lag_check(*, stream_id: int, now: datetime | None = None) -> LagCheck:
    """Alert or follow up for one stream when its lag crossed its threshold (see the module docstring)."""
    now = now or timezone.now()
    stream = AuditStream.objects.select_related("organization").get(pk=stream_id)
    lag = stream_lag_seconds(stream, now=now)
    if lag > stream.lag_alert_seconds and stream.lag_alerted_at is None and stream.state == StreamState.ACTIVE:
        with transaction.atomic():
            if AuditStream.objects.filter(pk=stream.pk, lag_alerted_at__isnull=True).update(lag_alerted_at=now) != 1:
                return LagCheck(stream_id, lag)
            notification_send(
                organization_id=stream.organization_id,
                project_id=None,
                message=_lagging_message(stream, lag),
                subject_ref=_subject(stream, now),
                people=_org_admins(stream.organization_id),
                link_for=lambda recipient: _link(stream),
            )
        return LagCheck(stream_id, lag, alerted=True)
    if lag <= stream.lag_alert_seconds and stream.lag_alerted_at is not None:
        alerted_at = stream.lag_alerted_at
        with transaction.atomic():
            if AuditStream.objects.filter(pk=stream.pk, lag_alerted_at=alerted_at).update(lag_alerted_at=None) != 1:
                return LagCheck(stream_id, lag)
            notification_follow_up(
                subject_ref=_subject(stream, alerted_at),
                status_text="Caught up",
                message=Message(
                    event_kind=EVENT_KIND,
                    title=f"Audit stream '{stream.name}' caught up",
                    summary=(
                        f"The audit stream '{stream.name}' of {stream.organization.name} is back under "
                        f"{stream.lag_alert_seconds} s of lag: its destination holds the log again."
                    ),
                    facts=(Fact("Stream", stream.name), Fact("Lag", f"{lag} s")),
                ),
            )
        return LagCheck(stream_id, lag, recovered=True)
    return LagCheck(stream_id, lag)


def _subject(stream: AuditStream, alerted_at: datetime) -> str:
    # One subject per alert: the follow-up reaches this alert's messages, not an earlier one's.
    return f"audit_stream_lag:{stream.public_id}:{int(alerted_at.timestamp())}"


def _org_admins(organization_id: int) -> list[AbstractBaseUser]:
    return list(
        get_user_model().objects.filter(
            org_memberships__organization_id=organization_id, org_memberships__role=OrgRole.ADMIN, is_active=True
        )
    )


def _link(stream: AuditStream) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/org/{stream.organization.slug}/audit/streams/"


def _lagging_message(stream: AuditStream, lag: int) -> Message:
    minutes = max(1, lag // 60)
    reason = stream.last_error or "no error recorded: the workers may be stopped or overloaded"
    return Message(
        event_kind=EVENT_KIND,
        title=f"Audit stream '{stream.name}' is {minutes} min behind",
        summary=(
            f"The audit stream '{stream.name}' of {stream.organization.name} has not delivered events for "
            f"{lag} s (threshold {stream.lag_alert_seconds} s). Nothing is lost: it resumes from where it "
            "stopped once its destination accepts events again."
        ),
        facts=(
            Fact("Stream", stream.name),
            Fact("Kind", stream.kind),
            Fact("Lag", f"{lag} s"),
            Fact("Last success", stream.last_success_at.isoformat() if stream.last_success_at else "never"),
            Fact("Last error", reason),
            Fact("Failed attempts", str(stream.consecutive_failures)),
        ),
        link_label="Open the audit streams",
        severity="warning",
    )

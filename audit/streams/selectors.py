"""Reads of audit streams, and the one place their access is decided: streams belong to the
administrators of their organization (a platform superuser too). A member gets 403 (audited), an
outsider 404 for the organization, and a stream of another organization is 404 like a missing one.

``stream_status`` is what the page and the API show: how far behind the stream is (events and
seconds), when it last delivered, why it last failed (sanitised at write time), and its state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from audit.streams.models import AuditStream, ParkedAuditEvent, StreamState
from secrets_app.errors import NotFound
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require

# Counting a lag of millions of rows on every refresh of the page would scan them all: past this,
# the status says "at least" (``lag_events_capped``).
LAG_COUNT_CAP = 1_000_000


class StreamDisplayState:
    """What ``stream_status().state`` says, strongest first."""

    PAUSED = "paused"
    BACKING_OFF = "backing_off"  # failed, waiting until ``next_attempt_at``
    FAILING = "failing"  # the last attempt failed; the next one is due
    ACTIVE = "active"


@dataclass(frozen=True)
class StreamStatus:
    state: str
    lag_events: int
    lag_events_capped: bool
    lag_seconds: int
    oldest_undelivered_id: int | None
    oldest_undelivered_at: datetime | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    consecutive_failures: int
    backing_off_until: datetime | None
    delivered_count: int
    parked_count: int
    cursor_event_id: int
    lag_alert_seconds: int
    lag_alert_active: bool


def streams_admin_require(principal: Principal, organization: Organization) -> None:
    """PermissionDenied (403, audited as ``permission.denied``) unless the principal administers
    *organization*."""
    org_admin_require(
        principal,
        organization.pk,
        requested_action="audit_streams.manage",
        resource_type="audit_stream",
        resource_id=organization.slug,
        message="Only organization admins manage audit streams",
    )


def stream_list(organization: Organization) -> QuerySet[AuditStream]:
    """The organization's streams, by name. The caller checked the principal administers it."""
    return AuditStream.objects.filter(organization=organization).select_related("organization", "created_by")


def stream_get(organization: Organization, ref: str | uuid.UUID) -> AuditStream:
    """The stream *ref* (public id) of *organization*; NotFound otherwise (also for another
    organization's stream). The caller checked the principal administers *organization*."""
    try:
        public_id = uuid.UUID(str(ref))
    except ValueError:
        raise NotFound("Audit stream not found") from None
    stream = (
        AuditStream.objects.filter(public_id=public_id, organization=organization)
        .select_related("organization", "created_by")
        .first()
    )
    if stream is None:
        raise NotFound("Audit stream not found")
    return stream


def stream_get_for(principal: Principal, organization: Organization, ref: str | uuid.UUID) -> AuditStream:
    """``stream_get`` after ``streams_admin_require``."""
    streams_admin_require(principal, organization)
    return stream_get(organization, ref)


def organization_newest_event_id(organization_id: int) -> int:
    """The id of the organization's newest audit event (0: none)."""
    value = AuditEvent.objects.filter(organization_id=organization_id).aggregate(newest=Max("id"))["newest"]
    return int(value or 0)


def stream_status(stream: AuditStream, *, now: datetime | None = None) -> StreamStatus:
    """The stream's position and health. Lag counts the organization's events after the cursor
    (sealed or not yet: what the SIEM does not hold yet); lag seconds is the age of the oldest of them."""
    now = now or timezone.now()
    pending = AuditEvent.objects.filter(organization_id=stream.organization_id, id__gt=stream.cursor_event_id)
    lag_events = pending.order_by().values("id")[: LAG_COUNT_CAP + 1].count()
    oldest = pending.order_by("id").values("id", "occurred_at").first()
    lag_seconds = max(0, int((now - oldest["occurred_at"]).total_seconds())) if oldest else 0
    backing_off_until = stream.next_attempt_at if stream.next_attempt_at and stream.next_attempt_at > now else None
    if stream.state == StreamState.PAUSED:
        state = StreamDisplayState.PAUSED
    elif backing_off_until is not None:
        state = StreamDisplayState.BACKING_OFF
    elif stream.consecutive_failures:
        state = StreamDisplayState.FAILING
    else:
        state = StreamDisplayState.ACTIVE
    return StreamStatus(
        state=state,
        lag_events=min(lag_events, LAG_COUNT_CAP),
        lag_events_capped=lag_events > LAG_COUNT_CAP,
        lag_seconds=lag_seconds,
        oldest_undelivered_id=oldest["id"] if oldest else None,
        oldest_undelivered_at=oldest["occurred_at"] if oldest else None,
        last_success_at=stream.last_success_at,
        last_attempt_at=stream.last_attempt_at,
        last_error=stream.last_error,
        last_error_at=stream.last_error_at,
        consecutive_failures=stream.consecutive_failures,
        backing_off_until=backing_off_until,
        delivered_count=stream.delivered_count,
        parked_count=ParkedAuditEvent.objects.filter(stream=stream).count(),
        cursor_event_id=stream.cursor_event_id,
        lag_alert_seconds=stream.lag_alert_seconds,
        lag_alert_active=stream.lag_alerted_at is not None,
    )


@dataclass(frozen=True)
class ParkedEventRow:
    """A parked event with what an admin needs to recognise it (never its metadata)."""

    event_id: int
    status: int | None
    error: str
    parked_at: datetime
    action: str
    occurred_at: datetime | None


def parked_events(stream: AuditStream, *, limit: int = 200) -> list[ParkedEventRow]:
    """The stream's parked events, oldest event first (at most *limit*). ``action`` is empty when
    the event itself was purged since."""
    parked = list(ParkedAuditEvent.objects.filter(stream=stream).order_by("event_id")[:limit])
    events: dict[int, dict[str, Any]] = {
        row["id"]: dict(row)
        for row in AuditEvent.objects.filter(
            id__in=[item.event_id for item in parked], organization_id=stream.organization_id
        ).values("id", "action", "occurred_at")
    }
    return [
        ParkedEventRow(
            event_id=item.event_id,
            status=item.status,
            error=item.error,
            parked_at=item.parked_at,
            action=events.get(item.event_id, {}).get("action", ""),
            occurred_at=events.get(item.event_id, {}).get("occurred_at"),
        )
        for item in parked
    ]


def failing_stream_count(organization_id: int) -> int:
    """Streams of the organization that are not paused and whose last attempt failed (nav badge)."""
    return (
        AuditStream.objects.filter(organization_id=organization_id, state=StreamState.ACTIVE)
        .filter(consecutive_failures__gt=0)
        .count()
    )

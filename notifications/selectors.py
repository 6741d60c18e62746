"""Reads of the notifications app, and the one place their access is decided: channels and
deliveries are for the administrators of their organization (a platform superuser too). Anyone
else gets 404 for a channel, as for a missing one, and 403 (audited) for the lists."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus, NotificationChannel
from secrets_app.errors import NotFound, PermissionDenied
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import admin_organization_ids, is_org_admin, org_admin_require, organization_denial


def deliveries_for(subject_ref: str) -> list[Delivery]:
    """Every delivery of the notifications about *subject_ref*, oldest first (for a per-request
    "delivery status" panel; the caller decided the viewer may see that subject)."""
    return list(
        Delivery.objects.filter(notification__subject_ref=subject_ref[:200])
        .select_related("channel", "notification")
        .order_by("created_at", "id")
    )


def administered_organizations(principal: Principal) -> QuerySet[Organization]:
    if principal.is_platform_superuser:
        return Organization.objects.all().order_by("slug")
    return Organization.objects.filter(pk__in=admin_organization_ids(principal)).order_by("slug")


def organization_for_notifications(principal: Principal, slug: str | None) -> Organization:
    """The organization to act in: *slug*, or the only one the principal administers. Refused
    (403, audited) when the principal administers none."""
    organizations = list(administered_organizations(principal))
    if slug:
        for organization in organizations:
            if organization.slug == slug:
                return organization
        raise NotFound("Organization not found")
    if len(organizations) == 1:
        return organizations[0]
    if not organizations:
        raise organization_denial(
            principal,
            organization_id=None,
            requested_action="notifications.manage",
            resource_type="notification_channel",
            message="Only organization admins manage notifications",
        )
    raise PermissionDenied("You administer several organizations: name one (organization)")


def notifications_admin_require(principal: Principal, organization: Organization) -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action="notifications.manage",
        resource_type="notification_channel",
        message="Only organization admins manage notifications",
    )


def channel_list(organizations: QuerySet[Organization] | list[Organization]) -> QuerySet[NotificationChannel]:
    return (
        NotificationChannel.objects.filter(organization__in=list(organizations))
        .select_related("organization", "created_by")
        .prefetch_related("routes__project")
    )


def channel_get_for(principal: Principal, ref: str, *, organization: Organization | None = None) -> NotificationChannel:
    """A channel of an organization the principal administers; NotFound otherwise."""
    try:
        public_id = uuid.UUID(str(ref))
    except ValueError:
        raise NotFound("Channel not found") from None
    channel = (
        NotificationChannel.objects.filter(public_id=public_id)
        .select_related("organization")
        .prefetch_related("routes__project")
        .first()
    )
    if channel is None or (organization is not None and channel.organization_id != organization.pk):
        raise NotFound("Channel not found")
    if not is_org_admin(principal, channel.organization_id):
        raise NotFound("Channel not found")
    return channel


def delivery_list(
    organizations: QuerySet[Organization] | list[Organization], *, status: str | None = None, limit: int = 100
) -> list[Delivery]:
    query = Delivery.objects.filter(notification__organization__in=list(organizations)).select_related(
        "channel", "notification", "notification__project", "notification__organization"
    )
    if status:
        query = query.filter(status=status)
    return list(query.order_by("-created_at", "-id")[:limit])


def failed_count_recent(organization_id: int, *, hours: int = 24) -> int:
    """Deliveries of the organization that failed for good in the last *hours* (nav badge)."""
    return Delivery.objects.filter(
        notification__organization_id=organization_id,
        status=DeliveryStatus.FAILED,
        created_at__gte=timezone.now() - timedelta(hours=hours),
    ).count()

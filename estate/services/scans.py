"""Asking for a scan of the Azure DevOps estate, and cancelling one. The scan itself runs in a
worker (``estate.services.scan_run`` through ``estate.tasks.estate_scan_run``).

The status column is the truth, as for syncs: the Celery message is a wake-up call; the
reconciler (``estate.tasks.estate_scans_reconcile``) re-sends it for a scan that stays QUEUED and
re-queues a RUNNING one whose heartbeat went stale. At most one queued or running scan per
Strongroom organization and Azure DevOps organization URL (a partial unique constraint): asking
again while one is active answers 409 naming it."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from estate.models import ACTIVE_SCAN_STATUSES, EstateScan, ScanStatus
from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.models import Organization
from secrets_app.principals import Principal
from syncs.models import AppConnection, ConnectionKind

logger = logging.getLogger("strongroom.estate")


def estate_connection_get(organization: Organization, ref: str) -> AppConnection:
    """An Azure DevOps connection of *organization* by public id, numeric id or name."""
    ref = str(ref or "").strip()
    if not ref:
        raise ValidationFailed("connection", "this field is required: an Azure DevOps connection")
    query = AppConnection.objects.filter(organization=organization)
    found = None
    try:
        found = query.filter(public_id=uuid.UUID(ref)).first()
    except ValueError:
        found = query.filter(pk=int(ref)).first() if ref.isdigit() else query.filter(name=ref).first()
    if found is None:
        raise ValidationFailed("connection", "no such connection in this organization")
    if found.kind != ConnectionKind.AZURE_DEVOPS:
        raise ValidationFailed("connection", "must be an Azure DevOps connection")
    return found


def send_scan_message(scan_id: int) -> None:
    """Publish an ``estate_scan_run`` message; a broker that is down only delays the scan (the
    reconciler re-sends it)."""
    from estate.tasks import estate_scan_run

    try:
        estate_scan_run.delay(scan_id)
    except Exception:  # noqa: BLE001 - the row says QUEUED; the reconciler sends it again
        logger.warning("estate scan %s: the broker is unavailable; the reconciler will send it", scan_id)


def scan_request(
    *, principal: Principal, organization: Organization, connection_ref: str, trigger: str = "manual"
) -> EstateScan:
    """Queue a read-only scan through the connection (the caller was checked by
    ``estate.access.estate_organization``). Conflict (409) while another scan of the same Azure
    DevOps organization is queued or running."""
    connection = estate_connection_get(organization, connection_ref)
    org_url = str(connection.config.get("organization_url", "")).strip().rstrip("/")
    active = EstateScan.objects.filter(organization=organization, org_url=org_url, status__in=ACTIVE_SCAN_STATUSES)
    running = active.first()
    if running is not None:
        raise Conflict(f"A scan of {org_url} is already {running.status} ({running.public_id})")
    scan = EstateScan(
        organization=organization,
        connection=connection,
        org_url=org_url,
        trigger=trigger[:16],
        requested_by=principal.user if principal.kind == "user" else None,
        queued_at=timezone.now(),
        progress={"phase": "queued"},
    )
    try:
        with transaction.atomic():
            scan.save()
            audit_record(
                action="estate.scan_requested",
                actor=principal.audit_actor(),
                organization_id=organization.pk,
                resource_type="estate_scan",
                resource_id=str(scan.public_id),
                metadata={"connection": connection.name, "organization_url": org_url, "trigger": scan.trigger},
            )
            transaction.on_commit(lambda: send_scan_message(scan.pk))
    except IntegrityError:
        raise Conflict(f"A scan of {org_url} is already queued or running") from None
    return scan


def scan_cancel(*, principal: Principal, organization: Organization, scan: EstateScan) -> EstateScan:
    """Stop a queued or running scan: the worker sees the status between two requests and stops;
    what it already recorded stays (a later scan starts afresh). Conflict when it has ended."""
    if scan.organization_id != organization.pk:
        raise NotFound("Scan not found")
    with transaction.atomic():
        changed = EstateScan.objects.filter(pk=scan.pk, status__in=ACTIVE_SCAN_STATUSES).update(
            status=ScanStatus.CANCELLED, finished_at=timezone.now()
        )
        if not changed:
            raise Conflict(f"The scan has already ended ({scan.status})")
        audit_record(
            action="estate.scan_cancelled",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="estate_scan",
            resource_id=str(scan.public_id),
            metadata={"organization_url": scan.org_url},
        )
    scan.refresh_from_db()
    return scan

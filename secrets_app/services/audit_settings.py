"""An organization's audit settings (org admins only): how long its audit events are kept."""

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from secrets_app.errors import ValidationFailed
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require

RETENTION_MIN_DAYS = 1
RETENTION_MAX_DAYS = 36500


def _require_admin(principal: Principal, organization: Organization, action: str) -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action=action,
        resource_type="organization",
        resource_id=organization.slug,
        message="Only organization admins can see or change the audit settings",
    )


def audit_settings_get(*, principal: Principal, organization: Organization) -> dict[str, int]:
    _require_admin(principal, organization, "organization.audit_settings_read")
    return {"retention_days": organization.audit_retention_days}


def audit_retention_set(*, principal: Principal, organization: Organization, retention_days: object) -> dict[str, int]:
    """Keep the organization's audit events ``retention_days`` days (``manage.py audit_purge`` applies
    it, whole sealed blocks at a time). Audited as ``audit.retention_changed`` with old and new value."""
    _require_admin(principal, organization, "organization.audit_settings_update")
    if type(retention_days) is not int or not RETENTION_MIN_DAYS <= retention_days <= RETENTION_MAX_DAYS:
        raise ValidationFailed(
            "retentionDays", f"must be a whole number of days from {RETENTION_MIN_DAYS} to {RETENTION_MAX_DAYS}"
        )
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        before = locked.audit_retention_days
        if before != retention_days:
            locked.audit_retention_days = retention_days
            locked.save(update_fields=["audit_retention_days"])
            audit_record(
                action="audit.retention_changed",
                actor=principal.audit_actor(),
                organization_id=organization.pk,
                resource_type="organization",
                resource_id=organization.slug,
                metadata={"from_days": before, "to_days": retention_days},
            )
    organization.audit_retention_days = retention_days
    return {"retention_days": retention_days}

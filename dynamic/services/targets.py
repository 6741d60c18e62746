"""An organization's dynamic secret target allowlist (org admins only)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from audit.services import audit_record
from dynamic.models import TargetAllowlist
from dynamic.selectors import target_allowlist
from dynamic.targets import clean_entries
from secrets_app.errors import ValidationFailed
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require


def target_allowlist_get(*, principal: Principal, organization: Organization) -> list[str]:
    """The allowlist, for an organization admin (403, audited, otherwise)."""
    org_admin_require(
        principal,
        organization.pk,
        requested_action="dynamic_targets.read",
        resource_type="dynamic_target_allowlist",
        message="Only organization admins may see where dynamic secrets connect",
    )
    return target_allowlist(organization.pk)


def target_allowlist_set(*, principal: Principal, organization: Organization, entries: Sequence[object]) -> list[str]:
    """Replace the allowlist as a whole (host names, IPs, CIDRs). 403 (audited) unless the
    principal administers the organization; 400 naming the bad entry."""
    org_admin_require(
        principal,
        organization.pk,
        requested_action="dynamic_targets.manage",
        resource_type="dynamic_target_allowlist",
        message="Only organization admins may change where dynamic secrets connect",
    )
    try:
        cleaned = clean_entries(entries)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise ValidationFailed(field, message) from None
    with transaction.atomic():
        row, _ = TargetAllowlist.objects.select_for_update().get_or_create(organization=organization)
        previous = list(row.entries)
        row.entries = cleaned
        row.save()
        audit_record(
            action="dynamic_targets.updated",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="dynamic_target_allowlist",
            resource_id=str(organization.pk),
            metadata={
                "added": sorted(set(cleaned) - set(previous)),
                "removed": sorted(set(previous) - set(cleaned)),
            },
        )
    return cleaned

"""Keeping directory-managed groups in step with what the directory says (sign-in claims, SCIM).

Only groups of the given *source* are touched: a person's local groups, and groups another source
manages, are never changed by a sign-in. Every change is audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from audit.services import AuditActor, audit_record
from secrets_app.models import Group, GroupMembership, GroupSource, Organization


def group_memberships_sync(
    *, user: Any, organization: Organization, source: str, external_ids: Iterable[str], actor: AuditActor
) -> tuple[list[str], list[str]]:
    """Make *user*'s memberships of *organization*'s groups of *source* exactly the groups whose
    ``external_id`` is in *external_ids*. Groups the organization has not mapped are ignored (a
    directory group grants nothing until an admin maps it). Returns (joined slugs, left slugs)."""
    if source not in (GroupSource.IDP, GroupSource.SCIM):
        raise ValueError(f"groups of source {source!r} are not kept in step with a directory")
    wanted = {str(value) for value in external_ids if str(value)}
    with transaction.atomic():
        mapped = {
            group.pk: group
            for group in Group.objects.filter(organization=organization, source=source).exclude(external_id="")
        }
        current = set(GroupMembership.objects.filter(user=user, group_id__in=mapped).values_list("group_id", flat=True))
        target = {pk for pk, group in mapped.items() if group.external_id in wanted}
        joined = sorted(target - current)
        left = sorted(current - target)
        GroupMembership.objects.bulk_create(
            [GroupMembership(group_id=pk, user=user, source=source) for pk in joined], ignore_conflicts=True
        )
        GroupMembership.objects.filter(user=user, group_id__in=left).delete()
        for action, pks in (("group.member_added", joined), ("group.member_removed", left)):
            for pk in pks:
                audit_record(
                    action=action,
                    actor=actor,
                    organization_id=organization.pk,
                    resource_type="group",
                    resource_id=str(mapped[pk].public_id),
                    metadata={"group": mapped[pk].slug, "user_id": user.pk, "email": user.email, "source": source},
                )
    return [mapped[pk].slug for pk in joined], [mapped[pk].slug for pk in left]

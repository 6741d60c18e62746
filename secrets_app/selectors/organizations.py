"""The organizations a person belongs to."""

from __future__ import annotations

from typing import Any

from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import Organization, OrganizationMembership
from secrets_app.principals import Principal


def organization_membership_list(user: Any) -> list[OrganizationMembership]:
    return list(
        OrganizationMembership.objects.filter(user=user).select_related("organization").order_by("organization__slug")
    )


def organization_for_new_project(principal: Principal, slug: str | None) -> Organization:
    """The organization a new project goes to: the named one (which the caller must belong to),
    else the caller's only organization. Raises ValidationFailed naming ``organization`` when the
    caller belongs to several (or none), NotFound when the named one is not theirs."""
    if principal.is_platform_superuser and slug:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise NotFound("Organization not found", fields={"organization": ["not found"]})
        return organization
    memberships = organization_membership_list(principal.user)
    if slug:
        for membership in memberships:
            if membership.organization.slug == slug:
                return membership.organization
        raise NotFound("Organization not found", fields={"organization": ["not found"]})
    if len(memberships) == 1:
        return memberships[0].organization
    if not memberships:
        raise ValidationFailed("organization", "you belong to no organization")
    names = ", ".join(membership.organization.slug for membership in memberships)
    raise ValidationFailed("organization", f"is required: you belong to several organizations ({names})")

"""SCIM reads, always within the presented token's organization (another organization's people and
groups answer 404 like missing ones)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from secrets_app.errors import NotFound
from secrets_app.models import Group, GroupSource, OrganizationMembership, ScimPerson, ScimToken


def uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def scim_person_get(*, token: ScimToken, public_id: str) -> ScimPerson:
    key = uuid_or_none(public_id)
    person = (
        ScimPerson.objects.filter(organization=token.organization, public_id=key).select_related("user").first()
        if key
        else None
    )
    if person is None:
        raise NotFound("User not found")
    return person


def scim_members_for_filter(*, token: ScimToken, user_name: str | None = None) -> QuerySet[OrganizationMembership]:
    """The organization's members, optionally those whose sign-in name is *user_name* (SCIM
    userName comparisons are case-insensitive)."""
    query = OrganizationMembership.objects.filter(organization=token.organization).select_related("user")
    if user_name is not None:
        query = query.filter(user__username__iexact=user_name.strip())
    return query.order_by("user_id")


def scim_people_by_external_id(*, token: ScimToken, external_id: str) -> QuerySet[ScimPerson]:
    return ScimPerson.objects.filter(organization=token.organization, external_id=external_id).select_related("user")


def scim_group_get(*, token: ScimToken, public_id: str) -> Group:
    key = uuid_or_none(public_id)
    group = (
        Group.objects.filter(organization=token.organization, source=GroupSource.SCIM, public_id=key).first()
        if key
        else None
    )
    if group is None:
        raise NotFound("Group not found")
    return group


def scim_groups(
    *, token: ScimToken, display_name: str | None = None, external_id: str | None = None
) -> QuerySet[Group]:
    query = Group.objects.filter(organization=token.organization, source=GroupSource.SCIM)
    if display_name is not None:
        query = query.filter(name__iexact=display_name)
    if external_id is not None:
        query = query.filter(external_id=external_id)
    return query.order_by("created_at", "pk")


def scim_group_member_ids(*, group: Group) -> list[tuple[str, str]]:
    """(SCIM user id, userName) of the group's members the directory knows."""
    return [
        (str(public_id), username)
        for public_id, username in ScimPerson.objects.filter(
            organization_id=group.organization_id, user__group_memberships__group=group
        )
        .order_by("user__username")
        .values_list("public_id", "user__username")
    ]

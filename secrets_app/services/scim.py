"""SCIM provisioning writes: the directory creates, changes and deactivates an organization's
people and its SCIM groups. Every change is audited in the same transaction with the system actor
``scim`` (naming the token used).

People created here have no usable password: they sign in through the organization's SSO.
Deactivation goes through ``person_deactivate`` (sessions and personal tokens end at once, group
memberships go); reactivation restores sign-in but never the revoked tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from audit.services import audit_record
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.models import (
    Group,
    GroupMembership,
    GroupSource,
    OrganizationMembership,
    OrgRole,
    ScimPerson,
    ScimToken,
)
from secrets_app.selectors.scim import uuid_or_none
from secrets_app.services.people import person_deactivate
from secrets_app.services.scim_tokens import scim_actor


@dataclass
class PersonFields:
    """What the directory says about a person (SCIM core User attributes we keep)."""

    user_name: str
    external_id: str = ""
    given_name: str = ""
    family_name: str = ""
    active: bool = True


def _email(user_name: str) -> str:
    email = (user_name or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValidationFailed("userName", "must be an email address (the person's sign-in name)")
    return email


def scim_people_link(*, token: ScimToken, users: Iterable[Any]) -> dict[int, ScimPerson]:
    """The SCIM records of organization members, made for those the directory has not seen yet
    (a person added before provisioning started is matched by ``userName``). Idempotent."""
    ids = [user.pk for user in users]
    ScimPerson.objects.bulk_create(
        [ScimPerson(organization=token.organization, user_id=pk) for pk in ids], ignore_conflicts=True
    )
    people = ScimPerson.objects.filter(organization=token.organization, user_id__in=ids).select_related("user")
    return {person.user_id: person for person in people}


def scim_user_create(*, token: ScimToken, fields: PersonFields) -> ScimPerson:
    """A new organization member without a usable password. Conflict (SCIM ``uniqueness``) when
    the userName is taken, here or in another organization."""
    email = _email(fields.user_name)
    User = get_user_model()
    organization = token.organization
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=email,
                email=email,
                password=None,
                first_name=fields.given_name[:150],
                last_name=fields.family_name[:150],
                is_active=fields.active,
            )
            OrganizationMembership.objects.create(organization=organization, user=user, role=OrgRole.MEMBER)
            person = ScimPerson.objects.create(organization=organization, user=user, external_id=fields.external_id)
            audit_record(
                action="user.provisioned",
                actor=scim_actor(token),
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": email, "external_id": fields.external_id, "active": fields.active},
            )
    except IntegrityError:
        raise Conflict("A user with that userName exists", fields={"userName": ["already exists"]}) from None
    return person


def scim_user_update(*, token: ScimToken, person: ScimPerson, fields: PersonFields) -> ScimPerson:
    """Apply the directory's view of the person (PUT, or PATCH resolved to a full view). A change
    of ``active`` to False deactivates (person_deactivate); to True restores sign-in only."""
    user = person.user
    email = _email(fields.user_name)
    organization = token.organization
    with transaction.atomic():
        changed = []
        for attribute, value in (
            ("email", email),
            ("username", email),
            ("first_name", fields.given_name[:150]),
            ("last_name", fields.family_name[:150]),
        ):
            if getattr(user, attribute) != value:
                setattr(user, attribute, value)
                changed.append(attribute)
        if changed:
            try:
                with transaction.atomic():
                    user.save(update_fields=changed)
            except IntegrityError:
                raise Conflict("A user with that userName exists", fields={"userName": ["already exists"]}) from None
        if person.external_id != fields.external_id:
            person.external_id = fields.external_id
            person.save(update_fields=["external_id", "updated_at"])
            changed.append("external_id")
        if changed:
            audit_record(
                action="user.provisioned",
                actor=scim_actor(token),
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": email, "changed": sorted(set(changed))},
            )
        if user.is_active and not fields.active:
            person_deactivate(
                organization=organization,
                user_id=user.pk,
                reason="deactivated by the directory (SCIM)",
                system_actor=scim_actor(token),
                audit_action="user.deprovisioned",
            )
        elif fields.active and not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
            audit_record(
                action="user.reprovisioned",
                actor=scim_actor(token),
                organization_id=organization.pk,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={"email": user.email},
            )
    person.user.refresh_from_db()
    return person


def scim_user_delete(*, token: ScimToken, person: ScimPerson) -> None:
    """SCIM DELETE: the person is deactivated (what they wrote and the audit trail stay) and the
    directory's record goes, so the id answers 404 from now on."""
    with transaction.atomic():
        if person.user.is_active:
            person_deactivate(
                organization=token.organization,
                user_id=person.user_id,
                reason="deleted by the directory (SCIM)",
                system_actor=scim_actor(token),
                audit_action="user.deprovisioned",
            )
        person.delete()


# --- groups ----------------------------------------------------------------------------------------


def _unique_slug(organization_id: int, display_name: str, exclude_pk: int | None = None) -> str:
    base = (slugify(display_name) or "group")[:56]
    query = Group.objects.filter(organization_id=organization_id, slug__startswith=base)
    if exclude_pk is not None:
        query = query.exclude(pk=exclude_pk)
    taken = set(query.values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _members(token: ScimToken, member_ids: Iterable[str]) -> dict[str, int]:
    """SCIM user ids -> user pks, all in the token's organization; ValidationFailed names the first
    id that is not one of its people."""
    wanted = {str(value) for value in member_ids}
    found = {
        str(public_id): user_id
        for public_id, user_id in ScimPerson.objects.filter(
            organization=token.organization, public_id__in=[v for v in wanted if uuid_or_none(v)]
        ).values_list("public_id", "user_id")
    }
    missing = sorted(wanted - found.keys())
    if missing:
        raise ValidationFailed("members", f"no user with id {missing[0]!r}")
    return found


def _audit_group(token: ScimToken, group: Group, action: str, **metadata: Any) -> None:
    audit_record(
        action=action,
        actor=scim_actor(token),
        organization_id=token.organization_id,
        resource_type="group",
        resource_id=str(group.public_id),
        metadata={"group": group.slug, "source": GroupSource.SCIM, **metadata},
    )


def scim_group_create(
    *, token: ScimToken, display_name: str, external_id: str = "", member_ids: Iterable[str] = ()
) -> Group:
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 200:
        raise ValidationFailed("displayName", "is required and must be at most 200 characters")
    members = _members(token, member_ids)
    try:
        with transaction.atomic():
            group = Group.objects.create(
                organization=token.organization,
                slug=_unique_slug(token.organization_id, display_name),
                name=display_name,
                source=GroupSource.SCIM,
                external_id=external_id,
            )
            if not external_id:
                group.external_id = str(group.public_id)
                group.save(update_fields=["external_id"])
            _audit_group(token, group, "group.created", name=display_name, external_id=external_id)
            _members_add(token, group, members)
    except IntegrityError:
        raise Conflict("A group with that externalId exists", fields={"externalId": ["already exists"]}) from None
    return group


def _members_add(token: ScimToken, group: Group, members: dict[str, int]) -> None:
    present = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    for user_id in sorted(set(members.values()) - present):
        GroupMembership.objects.create(group=group, user_id=user_id, source=GroupSource.SCIM)
        _audit_group(token, group, "group.member_added", user_id=user_id)


def _members_remove(token: ScimToken, group: Group, user_ids: Iterable[int]) -> None:
    for user_id in sorted(set(user_ids)):
        if GroupMembership.objects.filter(group=group, user_id=user_id).delete()[0]:
            _audit_group(token, group, "group.member_removed", user_id=user_id)


def scim_group_rename(*, token: ScimToken, group: Group, display_name: str, external_id: str | None = None) -> Group:
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 200:
        raise ValidationFailed("displayName", "is required and must be at most 200 characters")
    changes: dict[str, str] = {}
    if group.name != display_name:
        changes["name"] = display_name
    if external_id is not None and external_id and group.external_id != external_id:
        changes["external_id"] = external_id
    if changes:
        try:
            with transaction.atomic():
                for attribute, value in changes.items():
                    setattr(group, attribute, value)
                group.save(update_fields=list(changes))
                _audit_group(token, group, "group.updated", **changes)
        except IntegrityError:
            raise Conflict("A group with that externalId exists", fields={"externalId": ["already exists"]}) from None
    return group


def scim_group_members_change(
    *, token: ScimToken, group: Group, add: Iterable[str] = (), remove: Iterable[str] = (), replace: bool = False
) -> Group:
    """Add and remove members by SCIM user id; with *replace*, *add* is the whole member list.
    Removing someone who is not a member is not an error (Entra retries)."""
    to_add = _members(token, add)
    remove_ids = {str(value) for value in remove}
    with transaction.atomic():
        if replace:
            current = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
            _members_remove(token, group, current - set(to_add.values()))
        if remove_ids:
            ids = [value for value in remove_ids if uuid_or_none(value)]
            users = ScimPerson.objects.filter(organization=token.organization, public_id__in=ids)
            _members_remove(token, group, users.values_list("user_id", flat=True))
        _members_add(token, group, to_add)
    return group


def scim_group_delete(*, token: ScimToken, group: Group) -> None:
    """The group and its memberships and project roles go; people lose what it granted."""
    with transaction.atomic():
        _audit_group(token, group, "group.deleted", name=group.name)
        group.delete()

"""Groups of people and the roles groups hold in projects. Every change is audited in its transaction.

Organization admins create, map, rename and delete groups and manage the people of *local* groups;
people of IdP- or SCIM-sourced groups follow the directory (``services.group_sync``) and a manual
edit is refused with a 409. A group's project role is a grant like any other: it needs
``members.manage`` in the project and the rules of ``services.grants`` (nothing beyond the
caller's rights; not a group the caller belongs to, which would change their own access; a group
holding admin only by an admin; never a group holding rights the caller lacks).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from audit.services import audit_record
from secrets_app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import (
    Group,
    GroupMembership,
    GroupProjectMembership,
    GroupSource,
    Organization,
)
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, org_admin_require
from secrets_app.services.grants import grant_require, held_rights_refusal, role_resolve, rules_of
from secrets_app.validation import validate_slug

MANUAL_SOURCES = (GroupSource.LOCAL, GroupSource.IDP)


def _org_admin(principal: Principal, organization: Organization, resource_id: str = "") -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action="organization.manage_groups",
        resource_type="group",
        resource_id=resource_id,
        message="Only organization admins can manage groups",
    )


def _audit(principal: Principal, organization: Organization, action: str, group: Group, **metadata: Any) -> None:
    audit_record(
        action=action,
        actor=principal.audit_actor(),
        organization_id=organization.pk,
        resource_type="group",
        resource_id=str(group.public_id),
        metadata={"group": group.slug, **metadata},
    )


def group_find(organization: Organization, ref: str) -> Group:
    """*organization*'s group by slug or public id (UUID); NotFound otherwise."""
    groups = Group.objects.filter(organization=organization)
    try:
        group = groups.filter(public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        group = groups.filter(slug=ref).first()
    if group is None:
        raise NotFound("Group not found")
    return group


def _clean_external_id(source: str, external_id: str) -> str:
    external_id = (external_id or "").strip()
    if source == GroupSource.LOCAL and external_id:
        raise ValidationFailed("externalId", "a local group has no directory id")
    if source != GroupSource.LOCAL and not external_id:
        raise ValidationFailed("externalId", "is required: the directory's id of the group (e.g. its Entra object id)")
    if len(external_id) > 255:
        raise ValidationFailed("externalId", "at most 255 characters")
    return external_id


def group_create(
    *,
    principal: Principal,
    organization: Organization,
    slug: str,
    name: str = "",
    description: str = "",
    source: str = GroupSource.LOCAL,
    external_id: str = "",
) -> Group:
    """Create a local group, or map an identity-provider group (``source=idp`` with the directory's
    group id). SCIM groups are created by the directory's provisioning only."""
    _org_admin(principal, organization, slug)
    slug = validate_slug(slug, field="slug")
    if source not in MANUAL_SOURCES:
        raise ValidationFailed("source", "must be 'local' or 'idp' (SCIM groups are created by provisioning)")
    external_id = _clean_external_id(source, external_id)
    try:
        with transaction.atomic():
            group = Group.objects.create(
                organization=organization,
                slug=slug,
                name=(name or slug)[:200],
                description=description[:2000],
                source=source,
                external_id=external_id,
            )
            _audit(principal, organization, "group.created", group, source=source, external_id=external_id)
    except IntegrityError:
        if Group.objects.filter(organization=organization, slug=slug).exists():
            raise Conflict(f"Group '{slug}' already exists", fields={"slug": ["already exists"]}) from None
        raise Conflict(
            "Another group is already mapped to that directory group", fields={"externalId": ["already mapped"]}
        ) from None
    return group


def group_update(
    *,
    principal: Principal,
    organization: Organization,
    group_ref: str,
    name: str | None = None,
    description: str | None = None,
    external_id: str | None = None,
) -> Group:
    """Rename or describe a group; remap an IdP group to another directory id. The source of a group
    never changes (its people came from there)."""
    _org_admin(principal, organization, group_ref)
    group = group_find(organization, group_ref)
    changed: dict[str, Any] = {}
    if name is not None:
        group.name = name[:200] or group.slug
        changed["name"] = group.name
    if description is not None:
        group.description = description[:2000]
        changed["description"] = True
    if external_id is not None:
        if group.source != GroupSource.IDP:
            raise ValidationFailed("externalId", f"only an IdP group is remapped (this one is {group.source})")
        group.external_id = _clean_external_id(group.source, external_id)
        changed["external_id"] = group.external_id
    try:
        with transaction.atomic():
            group.save()
            _audit(principal, organization, "group.updated", group, changes=changed)
    except IntegrityError:
        raise Conflict(
            "Another group is already mapped to that directory group", fields={"externalId": ["already mapped"]}
        ) from None
    return group


def group_delete(*, principal: Principal, organization: Organization, group_ref: str) -> None:
    """Delete a group: its people lose the project roles they held through it at once."""
    _org_admin(principal, organization, group_ref)
    group = group_find(organization, group_ref)
    projects = list(group.project_memberships.values_list("project__slug", flat=True))
    with transaction.atomic():
        _audit(principal, organization, "group.deleted", group, source=group.source, projects=projects)
        group.delete()


def _directory_managed(group: Group) -> None:
    if group.source != GroupSource.LOCAL:
        raise Conflict(
            f"The people of this group are managed by the directory ({group.get_source_display()}): "
            "change them there, they follow at the next sign-in or provisioning run"
        )


def group_member_add(
    *,
    principal: Principal,
    organization: Organization,
    group_ref: str,
    user_id: int | None = None,
    email: str = "",
) -> GroupMembership:
    """Add a person of the organization to a local group (by user id or e-mail)."""
    _org_admin(principal, organization, group_ref)
    group = group_find(organization, group_ref)
    _directory_managed(group)
    people = get_user_model().objects.filter(org_memberships__organization=organization)
    if user_id is not None:
        user, field = people.filter(pk=user_id).first(), "userId"
    elif email.strip():
        user, field = people.filter(email__iexact=email.strip()).first(), "email"
    else:
        raise ValidationFailed("userId", "give userId or email")
    if user is None:
        raise NotFound("No such person in this organization", fields={field: ["not found"]})
    try:
        with transaction.atomic():
            membership = GroupMembership.objects.create(group=group, user=user, source=GroupSource.LOCAL)
            _audit(principal, organization, "group.member_added", group, user_id=user.pk, email=user.email)
    except IntegrityError:
        raise Conflict("That person is already in the group", fields={field: ["already a member"]}) from None
    return membership


def group_member_remove(*, principal: Principal, organization: Organization, group_ref: str, user_id: int) -> None:
    _org_admin(principal, organization, group_ref)
    group = group_find(organization, group_ref)
    _directory_managed(group)
    membership = GroupMembership.objects.filter(group=group, user_id=user_id).select_related("user").first()
    if membership is None:
        raise NotFound("That person is not in the group")
    with transaction.atomic():
        _audit(principal, organization, "group.member_removed", group, user_id=user_id, email=membership.user.email)
        membership.delete()


# --- a group's role in a project -----------------------------------------------------------------


def _group_in_project_org(scope: ProjectScope, group_ref: str) -> Group:
    return group_find(scope.project.organization, group_ref)


def _group_change_refusal(
    scope: ProjectScope, group: Group, membership: GroupProjectMembership | None
) -> tuple[str, list[str]] | None:
    """Why the caller may not give *group* a role here or change the one it holds, or None."""
    user_id = scope.principal.user_id
    if user_id is not None and GroupMembership.objects.filter(group=group, user_id=user_id).exists():
        return "You cannot change the role of a group you belong to (it is your own access)", []
    if membership is None:
        return None
    return held_rights_refusal(scope, membership, admin="a group holding admin", holder="a group that holds")


def may_change_group(scope: ProjectScope, group: Group, membership: GroupProjectMembership | None) -> bool:
    """For UIs: whether the caller may set or remove *group*'s role (the services decide anyway)."""
    return scope.access.can("members.manage") and _group_change_refusal(scope, group, membership) is None


def _group_change_require(
    scope: ProjectScope, group: Group, membership: GroupProjectMembership | None, requested_action: str
) -> None:
    refusal = _group_change_refusal(scope, group, membership)
    if refusal is not None:
        message, reasons = refusal
        scope.audit_denial(requested_action, resource_type="group", resource_id=str(group.public_id), reasons=reasons)
        raise PermissionDenied(message)


def _project_membership(scope: ProjectScope, group: Group) -> GroupProjectMembership | None:
    return (
        GroupProjectMembership.objects.filter(project=scope.project, group=group)
        .select_related("custom_role", "group")
        .prefetch_related("custom_role__rules")
        .first()
    )


def group_project_role_set(*, scope: ProjectScope, group_ref: str, role: str) -> tuple[GroupProjectMembership, bool]:
    """Give a group of the project's organization *role* here, or change the role it holds.
    Returns (membership, created). Refused (audited) as ``services.grants`` refuses for people."""
    require(scope, "members.manage")
    group = _group_in_project_org(scope, group_ref)
    membership = _project_membership(scope, group)
    _group_change_require(scope, group, membership, "members.manage")
    builtin, custom = role_resolve(scope, role)
    grant_require(
        scope,
        rules_of(builtin, custom),
        requested_action="members.grant",
        resource_type="group",
        resource_id=str(group.public_id),
    )
    previous = membership.role_slug if membership is not None else None
    try:
        with transaction.atomic():
            if membership is None:
                membership = GroupProjectMembership.objects.create(
                    project=scope.project, group=group, builtin_role=builtin, custom_role=custom
                )
                created = True
            else:
                membership.builtin_role, membership.custom_role = builtin, custom
                membership.save(update_fields=["builtin_role", "custom_role"])
                created = False
            scope.audit(
                "group.project_role_set",
                resource_type="group",
                resource_id=str(group.public_id),
                metadata={"group": group.slug, "role": role, "previous_role": previous},
            )
    except IntegrityError:
        raise Conflict("That group already has a role here; change it instead") from None
    return membership, created


def group_project_role_add(*, scope: ProjectScope, group_ref: str, role: str) -> GroupProjectMembership:
    """Like ``group_project_role_set`` but a 409 when the group already holds a role here."""
    require(scope, "members.manage")
    group = _group_in_project_org(scope, group_ref)
    if GroupProjectMembership.objects.filter(project=scope.project, group=group).exists():
        raise Conflict("That group already has a role here; change it instead", fields={"groupId": ["already added"]})
    membership, _ = group_project_role_set(scope=scope, group_ref=group_ref, role=role)
    return membership


def group_project_role_update(*, scope: ProjectScope, group_ref: str, role: str) -> GroupProjectMembership:
    """Like ``group_project_role_set`` but NotFound when the group holds no role here."""
    require(scope, "members.manage")
    group = _group_in_project_org(scope, group_ref)
    if not GroupProjectMembership.objects.filter(project=scope.project, group=group).exists():
        raise NotFound("That group has no role in this project")
    membership, _ = group_project_role_set(scope=scope, group_ref=group_ref, role=role)
    return membership


def group_project_role_remove(*, scope: ProjectScope, group_ref: str) -> None:
    require(scope, "members.manage")
    group = _group_in_project_org(scope, group_ref)
    membership = _project_membership(scope, group)
    if membership is None:
        raise NotFound("That group has no role in this project")
    _group_change_require(scope, group, membership, "members.manage")
    with transaction.atomic():
        scope.audit(
            "group.project_role_removed",
            resource_type="group",
            resource_id=str(group.public_id),
            metadata={"group": group.slug, "role": membership.role_slug},
        )
        membership.delete()

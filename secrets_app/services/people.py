"""Organization people: an org admin adds people, changes their org role and deactivates them.

Deactivating a person ends their sessions and revokes their personal tokens at once (the next
request on any worker is refused), and removes nothing of what they wrote.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.services import AuditActor, audit_record
from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import (
    GroupMembership,
    Organization,
    OrganizationMembership,
    OrgRole,
    PersonalAccessToken,
)
from secrets_app.principals import Principal
from secrets_app.selectors.access import people_admin_require
from secrets_app.services.invitations import invitation_email_configured
from secrets_app.services.users import user_create


def organization_get_for_principal(principal: Principal, slug: str) -> Organization:
    """The organization if the principal belongs to it (404 otherwise, like a missing one)."""
    query = Organization.objects.filter(slug=slug)
    if not principal.is_platform_superuser:
        query = query.filter(memberships__user_id=principal.user_id) if principal.user_id else query.none()
    organization = query.first()
    if organization is None:
        raise NotFound("Organization not found")
    return organization


def person_add(
    *,
    principal: Principal,
    organization: Organization,
    email: str,
    role: str = OrgRole.MEMBER,
    password: str | None = None,
) -> tuple[Any, str | None]:
    """Create a person in the organization. Returns the user and, when no password was given, a
    generated one to hand over once (never stored in clear, never shown again). A generated password
    is only for servers without SMTP: with it, people are invited by e-mail (services/invitations.py)."""
    people_admin_require(principal, organization, message="Only organization admins can manage people")
    if role not in OrgRole.values:
        raise ValidationFailed("role", "must be 'admin' or 'member'")
    if not password and invitation_email_configured():
        raise ValidationFailed(
            "password", "is required: e-mail is configured, so invite the person by e-mail instead (invitations)"
        )
    generated = None if password else secrets.token_urlsafe(15)
    user = user_create(
        email=email,
        password=password or generated or "",
        organization=organization,
        org_role=role,
        actor=principal.audit_actor(),
    )
    return user, generated


def person_set_role(
    *, principal: Principal, organization: Organization, user_id: int, role: str
) -> OrganizationMembership:
    people_admin_require(principal, organization, message="Only organization admins can manage people")
    if role not in OrgRole.values:
        raise ValidationFailed("role", "must be 'admin' or 'member'")
    membership = (
        OrganizationMembership.objects.filter(organization=organization, user_id=user_id).select_related("user").first()
    )
    if membership is None:
        raise NotFound("Person not found")
    if membership.user_id == principal.user_id:
        raise PermissionDenied("You cannot change your own organization role")
    with transaction.atomic():
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            action="member.org_role_changed",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="user",
            resource_id=str(user_id),
            metadata={"email": membership.user.email, "role": role, "previous_role": previous},
        )
    return membership


def person_deactivate(
    *,
    principal: Principal | None = None,
    organization: Organization,
    user_id: int,
    reason: str = "",
    system_actor: AuditActor | None = None,
    audit_action: str = "user.deactivated",
) -> Any:
    """Disable the account, revoke its personal tokens and take it out of the organization's groups
    (so no group grant reaches it). Idempotent. Its sessions end on their next request: Django's
    ModelBackend refuses inactive users when a session is loaded.

    An org admin (*principal*) deactivates through the UI/API; the directory (SCIM) passes
    *system_actor* instead, with no human to check."""
    if principal is not None:
        people_admin_require(principal, organization, message="Only organization admins can manage people")
    elif system_actor is None:
        raise ValueError("person_deactivate needs a principal or a system actor")
    actor = principal.audit_actor() if principal is not None else system_actor
    assert actor is not None
    membership = (
        OrganizationMembership.objects.filter(organization=organization, user_id=user_id).select_related("user").first()
    )
    if membership is None:
        raise NotFound("Person not found")
    user = membership.user
    if principal is not None and user.pk == principal.user_id:
        raise PermissionDenied("You cannot deactivate yourself")
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        revoked = PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        left = list(GroupMembership.objects.filter(user=user, group__organization=organization).select_related("group"))
        GroupMembership.objects.filter(pk__in=[m.pk for m in left]).delete()
        audit_record(
            action=audit_action,
            actor=actor,
            organization_id=organization.pk,
            resource_type="user",
            resource_id=str(user.pk),
            metadata={
                "email": user.email,
                "tokens_revoked": revoked,
                "groups_left": [m.group.slug for m in left],
                "reason": reason[:500],
            },
        )
    return user


def person_list(*, principal: Principal, organization: Organization) -> list[OrganizationMembership]:
    """Everyone in the organization (members see the list; only admins change it)."""
    organization_get_for_principal(principal, organization.slug)
    return list(
        OrganizationMembership.objects.filter(organization=organization).select_related("user").order_by("user__email")
    )


def password_change(*, user: Any, current_password: str, new_password: str) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError as DjangoValidationError

    from audit.models import ActorType
    from audit.services import AuditActor
    from secrets_app.person_lockout import account_password_failed, account_password_guard

    # The current password is a guessable secret like the sign-in form's: same account lockout.
    account_password_guard(username=user.get_username())
    if not user.check_password(current_password):
        account_password_failed(username=user.get_username())
        raise ValidationFailed("currentPassword", "is not your current password")
    try:
        validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed("newPassword", " ".join(exc.messages)) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_record(
            action="user.password_changed",
            actor=AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username()),
            resource_type="user",
            resource_id=str(user.pk),
        )


__all__ = [
    "get_user_model",
    "organization_get_for_principal",
    "password_change",
    "person_add",
    "person_deactivate",
    "person_list",
    "person_set_role",
]

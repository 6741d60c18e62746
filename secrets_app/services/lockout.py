"""Lifting a person's login lockout (secrets_app/person_lockout.py): an org admin's decision, audited.

Unlocking forgets the account's failures and its lock; a lock on a client address is not a
person's and is lifted by an operator (``manage.py person_unlock --ip``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from audit.services import SYSTEM_ACTOR, AuditActor, audit_record
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import Organization, OrganizationMembership
from secrets_app.person_lockout import lockout_accounts_locked, lockout_clear, lockout_is_locked, normalise_username
from secrets_app.principals import Principal
from secrets_app.selectors.access import people_admin_require


def person_unlock(*, principal: Principal, organization: Organization, user_id: int, reason: str = "") -> Any:
    """Lift the person's lockout (idempotent: unlocking an unlocked account is recorded too).
    Raises LoginLockoutUnavailable (503) when the lockout store cannot be written."""
    people_admin_require(principal, organization, message="Only organization admins can manage people")
    membership = (
        OrganizationMembership.objects.filter(organization=organization, user_id=user_id).select_related("user").first()
    )
    if membership is None:
        raise NotFound("Person not found")
    user = membership.user
    _unlock(
        actor=principal.audit_actor(),
        user=user,
        organization_ids=[organization.pk],
        via="organization admin",
        reason=reason,
    )
    return user


def person_unlock_by_operator(*, email: str = "", ip: str = "") -> dict[str, bool]:
    """``manage.py person_unlock``: lift an account's and/or a client address's lock."""
    if not email and not ip:
        raise ValidationFailed("email", "give an email, an IP address, or both")
    result: dict[str, bool] = {}
    if email:
        user = get_user_model().objects.filter(username__iexact=email.strip()).first()
        if user is None:
            raise NotFound(f"No account with the email {email!r}")
        org_ids: list[int | None] = list(
            OrganizationMembership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True)
        )
        result["account_was_locked"] = _unlock(
            actor=SYSTEM_ACTOR, user=user, organization_ids=org_ids or [None], via="manage.py person_unlock"
        )
    if ip:
        with transaction.atomic():
            was_locked = lockout_is_locked(username="", ip=ip)
            audit_record(
                action="user.unlocked",
                actor=SYSTEM_ACTOR,
                resource_type="ip_address",
                resource_id=ip,
                metadata={"scope": "ip_address", "was_locked": was_locked, "via": "manage.py person_unlock"},
            )
            lockout_clear(ip=ip, unlock=True)
        result["address_was_locked"] = was_locked
    return result


def _unlock(*, actor: AuditActor, user: Any, organization_ids: list[int | None], via: str, reason: str = "") -> bool:
    username = user.get_username()
    # The audit rows and the cache write stand or fall together: a store failure rolls the rows back.
    with transaction.atomic():
        was_locked = lockout_is_locked(username=username, ip="")
        for organization_id in organization_ids:
            audit_record(
                action="user.unlocked",
                actor=actor,
                organization_id=organization_id,
                resource_type="user",
                resource_id=str(user.pk),
                metadata={
                    "email": user.email,
                    "scope": "account",
                    "was_locked": was_locked,
                    "via": via,
                    **({"reason": reason[:500]} if reason else {}),
                },
            )
        lockout_clear(username=username, unlock=True)
    return was_locked


def person_locked_ids(people: list[OrganizationMembership]) -> set[int] | None:
    """The user ids among *people* whose account is locked now; None when the lockout store is down."""
    by_name = {normalise_username(person.user.get_username()): person.user_id for person in people}
    locked = lockout_accounts_locked(by_name)
    return None if locked is None else {by_name[name] for name in locked}


__all__ = ["person_locked_ids", "person_unlock", "person_unlock_by_operator"]

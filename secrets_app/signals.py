"""Audit receivers for people's logins (success and failure) and logouts; session clocks start at login.

Each event names the person's organization when they belong to exactly one, so it shows in that
organization's audit log (org admins); a person in several organizations, or a failed login for an
unknown name, stays platform-level (operators: ``manage.py audit_export``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.models import ActorType, Outcome
from audit.services import ANONYMOUS_ACTOR, AuditActor, audit_record


def _organization_of(user: Any) -> int | None:
    if user is None or user.pk is None:
        return None
    from secrets_app.models import OrganizationMembership

    ids = list(OrganizationMembership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None


def _user_named(username: str) -> Any:
    User = get_user_model()
    return User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).first() if username else None


@receiver(user_logged_in)
def _record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from secrets_app.sessions import session_stamp_login

    if getattr(request, "session", None) is not None:
        session_stamp_login(request.session)
    audit_record(
        action="user.logged_in",
        actor=AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username()),
        organization_id=_organization_of(user),
        resource_type="user",
        resource_id=user.pk,
    )


@receiver(user_login_failed)
def _record_login_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Only the username is kept: never the password that was tried.
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        action="user.login_failed",
        actor=ANONYMOUS_ACTOR,
        outcome=Outcome.DENY,
        organization_id=_organization_of(_user_named(username)),
        resource_type="user",
        metadata={
            "username": username,
            # Set by django-axes' backend when the account or address was already locked.
            **({"reason": "locked out"} if getattr(request, "axes_locked_out", False) else {}),
        },
    )


@receiver(user_logged_out)
def _record_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:  # logout() without a logged-in user: nothing ended
        return
    audit_record(
        action="user.logged_out",
        actor=AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username()),
        organization_id=_organization_of(user),
        resource_type="user",
        resource_id=user.pk,
        # "user" when they signed out; "idle timeout" / "absolute timeout" from secrets_app.sessions.
        metadata={"reason": getattr(request, "strongroom_logout_reason", "user")},
    )

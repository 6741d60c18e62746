"""Audit receivers for people's logins (success and failure) and logouts; session clocks start at login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.models import ActorType, Outcome
from audit.services import ANONYMOUS_ACTOR, AuditActor, audit_record


@receiver(user_logged_in)
def _record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from secrets_app.sessions import session_stamp_login

    if getattr(request, "session", None) is not None:
        session_stamp_login(request.session)
    audit_record(
        action="user.logged_in",
        actor=AuditActor(type=ActorType.USER, id=str(user.pk), label=user.get_username()),
        resource_type="user",
        resource_id=user.pk,
    )


@receiver(user_login_failed)
def _record_login_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Only the username is kept: never the password that was tried.
    audit_record(
        action="user.login_failed",
        actor=ANONYMOUS_ACTOR,
        outcome=Outcome.DENY,
        resource_type="user",
        metadata={
            "username": str(credentials.get("username", ""))[:150],
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
        resource_type="user",
        resource_id=user.pk,
        # "user" when they signed out; "idle timeout" / "absolute timeout" from secrets_app.sessions.
        metadata={"reason": getattr(request, "strongroom_logout_reason", "user")},
    )

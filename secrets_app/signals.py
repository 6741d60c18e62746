"""Audit receivers for people's logins (success and failure)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from audit.models import ActorType, Outcome
from audit.services import ANONYMOUS_ACTOR, AuditActor, audit_record


@receiver(user_logged_in)
def _record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
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
        metadata={"username": str(credentials.get("username", ""))[:150]},
    )

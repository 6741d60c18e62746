"""Leak flags: an admin says a secret's value leaked, with a reason (a leak scanner may later raise
them too). A flag is in force until an admin clears it or the value changes (a new version: the
leaked value no longer works), which ``governance.selectors.leaks.active_leak_flags`` applies, so a
rotation ends it with nothing to clear. The pipeline gate and the risk flags read that selector."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.models import LeakFlag
from governance.selectors.leaks import active_leak_flags
from governance.services.quarantine import MANAGE, notify_secret_people, secret_owner
from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.models import Secret
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope

MAX_REASON = 500


def _reason(value: str | None, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed("reason", "is required: say where or how the value leaked")
    if len(text) > MAX_REASON:
        raise ValidationFailed("reason", f"must be at most {MAX_REASON} characters")
    return text


def secret_leak_flag(*, scope: ProjectScope, secret_id: int, reason: str) -> LeakFlag:
    """Flag the live secret *secret_id* as leaked (``governance.manage``; *reason* required).
    Conflict when an active flag exists already. The owner is told."""
    require(scope, MANAGE)
    reason = _reason(reason, required=True)
    with transaction.atomic():
        secret = (
            Secret.objects.select_for_update(of=("self",))
            .filter(pk=secret_id, project=scope.project, deleted_at__isnull=True)
            .select_related("environment", "folder", "project", "rotation_owner", "created_by")
            .first()
        )
        if secret is None:
            raise NotFound("Secret not found", fields={"secret": ["not found"]})
        if active_leak_flags(secret_ids=[secret.pk]).exists():
            raise Conflict(f"Secret {secret.key} is flagged as leaked already", fields={"secret": ["already flagged"]})
        flag = LeakFlag.objects.create(
            secret=secret,
            project=scope.project,
            reason=reason,
            flagged_by=scope.principal.user,
            flagged_version=secret.version,
        )
        scope.audit(
            "secret.leak_flagged",
            environment=secret.environment.slug,
            path=secret.folder.path,
            resource_type="secret",
            resource_id=secret.key,
            metadata={"id": secret.pk, "flag": flag.pk, "version": secret.version, "reason": reason},
        )
        notify_secret_people(
            secret,
            kind="leak_flagged",
            event_prefix="governance.leak",
            title=f"{secret.key} is flagged as leaked",
            summary=(
                f"{scope.principal.label} flagged {secret.key} ({secret.environment.slug}:{secret.folder.path}) in "
                f"{secret.project.name} as leaked: {reason}. Rotate it: the flag ends when the value changes."
            ),
            people=[owner] if (owner := secret_owner(secret)) is not None else [],
            severity="critical",
            link_label="Open the leak flags",
        )
    return flag


def secret_leak_clear(*, scope: ProjectScope, flag_id: int, reason: str = "") -> LeakFlag:
    """Clear an active flag of the project (``governance.manage``). NotFound for a flag of another
    project; Conflict when it is no longer active (cleared, or ended by a new version)."""
    require(scope, MANAGE)
    reason = _reason(reason, required=False)
    with transaction.atomic():
        flag = (
            LeakFlag.objects.select_for_update(of=("self",))
            .filter(pk=flag_id, project=scope.project)
            .select_related("secret__environment", "secret__folder")
            .first()
        )
        if flag is None:
            raise NotFound("Leak flag not found", fields={"flag": ["not found"]})
        if not active_leak_flags(secret_ids=[flag.secret_id]).filter(pk=flag.pk).exists():
            raise Conflict("This leak flag is no longer active", fields={"flag": ["not active"]})
        flag.cleared_at = timezone.now()
        flag.cleared_by = scope.principal.user
        flag.cleared_reason = reason
        flag.save(update_fields=["cleared_at", "cleared_by", "cleared_reason"])
        secret = flag.secret
        scope.audit(
            "secret.leak_cleared",
            environment=secret.environment.slug,
            path=secret.folder.path,
            resource_type="secret",
            resource_id=secret.key,
            metadata={"id": secret.pk, "flag": flag.pk, "reason": reason},
        )
    return flag

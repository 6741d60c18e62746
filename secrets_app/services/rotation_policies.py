"""Rotation policies of ordinary secrets: set or clear "rotate every N days" and its owner, and
record a reveal in an environment that marks revealed values due (docs/rotation.md).

A policy is metadata of the secret (not of a version) and writes no version, so it does not pass
the approvals write gate; it needs the same right as editing the secret.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.events import announce_secret_revealed
from secrets_app.models import OrganizationMembership, Secret, SecretType
from secrets_app.policy.enforcement import require
from secrets_app.reveal_rotation import reveal_rotation_name
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.rotation_policies import due_view
from secrets_app.selectors.tree import folder_get
from secrets_app.validation import validate_secret_key

MAX_INTERVAL_DAYS = 3650


def _owner(scope: ProjectScope, owner_id: int | None) -> object | None:
    if owner_id is None:
        return None
    member = OrganizationMembership.objects.filter(
        organization_id=scope.project.organization_id, user_id=owner_id, user__is_active=True
    ).exists()
    if not member:
        raise ValidationFailed("owner", "must be an active person of the organization")
    return get_user_model().objects.get(pk=owner_id)


def secret_rotation_policy_set(
    *,
    scope: ProjectScope,
    environment: str,
    path: str,
    key: str,
    interval_days: int | None,
    owner_id: int | None,
) -> Secret:
    """Set the policy of a shared secret; ``interval_days=None`` and ``owner_id=None`` clear it.
    Audited ``secret.rotation_policy_set``. Raises ValidationFailed for an interval outside
    1..3650 days or an owner who is not an active person of the organization."""
    key = validate_secret_key(key)
    if interval_days is not None and not 1 <= interval_days <= MAX_INTERVAL_DAYS:
        raise ValidationFailed("intervalDays", f"must be between 1 and {MAX_INTERVAL_DAYS} days")
    env, folder = folder_get(scope, environment, path)
    secret = (
        Secret.objects.filter(folder=folder, key=key, type=SecretType.SHARED, deleted_at__isnull=True)
        .prefetch_related("tags")
        .first()
    )
    if secret is None:
        raise NotFound(f"Secret '{key}' not found at {folder.path}")
    tags = [tag.slug for tag in secret.tags.all()]
    require(scope, "secrets.edit", environment=env.slug, path=folder.path, tags=tags, resource=key)
    owner = _owner(scope, owner_id)
    with transaction.atomic():
        Secret.objects.filter(pk=secret.pk).update(rotation_interval_days=interval_days, rotation_owner=owner)
        secret.refresh_from_db()
        scope.audit(
            "secret.rotation_policy_set",
            environment=env.slug,
            path=folder.path,
            resource_type="secret",
            resource_id=key,
            metadata={
                "interval_days": interval_days,
                "owner": owner.get_username() if owner is not None else None,  # type: ignore[attr-defined]
            },
        )
    return secret


def secret_reveal_record(*, scope: ProjectScope, secret_id: int, environment: str, path: str, key: str) -> bool:
    """After a person revealed a value in the UI: announce ``secret_revealed`` (after commit) and,
    when the environment marks reveals, mark the secret due now, audit
    ``secret.rotation_marked_due`` and remind its owner. A secret a rotation owns is not marked
    (the rotation app queues the rotation from the signal). Returns True when it was marked."""
    announce_secret_revealed(
        project=scope.project,
        environment=environment,
        path=path,
        key=key,
        actor=scope.principal.user,
        secret_id=secret_id,
    )
    secret = (
        Secret.objects.filter(pk=secret_id, project=scope.project, type=SecretType.SHARED, deleted_at__isnull=True)
        .select_related("environment", "folder", "project", "rotation_owner")
        .first()
    )
    if secret is None or not secret.environment.reveal_marks_due:
        return False
    if reveal_rotation_name(
        project_id=scope.project.pk, environment=secret.environment.slug, path=secret.folder.path, key=secret.key
    ):
        return False  # a rotation owns it: its app's secret_revealed receiver queues that rotation
    from secrets_app.services.rotation_reminders import rotation_reminder_send

    now = timezone.now()
    with transaction.atomic():
        Secret.objects.filter(pk=secret.pk).update(rotation_due_at=now)
        secret.rotation_due_at = now
        scope.audit(
            "secret.rotation_marked_due",
            environment=secret.environment.slug,
            path=secret.folder.path,
            resource_type="secret",
            resource_id=secret.key,
            metadata={"reason": "revealed"},
        )
    entry = due_view(secret, now=now)
    if entry is not None:
        who = scope.principal.user.get_username() if scope.principal.user is not None else "someone"
        rotation_reminder_send(
            secret,
            entry,
            reason=(
                f"{who} revealed {secret.key} in {secret.project.name} ({entry.environment}:{entry.path}), "
                "where a reveal marks the value due for rotation. Rotate it."
            ),
        )
    return True

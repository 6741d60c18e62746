"""Quarantine: unused → quarantined → deletion proposed (docs/governance.md).

A quarantined secret stays stored and versioned, but its value is delivered to nobody: the core
reads ``Secret.quarantined_at`` (a single get answers 423, a list leaves the key out with a
warning). The ``Quarantine`` row is the story: who started it and why, how many reads were refused
and by whom, when deletion was proposed and how it ended (restored or deleted).

Deletion is only ever *proposed* (beat, after the policy's quiet days); a person deletes with one
click through the ordinary delete service, so the secret comes back with a folder rollback.
Notifications name keys, places and people, never a value.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone

from audit.services import SYSTEM_ACTOR, audit_record
from dynamic.services.notify import project_admins
from governance.models import ConsumerKind, Quarantine, QuarantineStatus, SecretDelivery
from governance.policy import policies_for
from notifications.services import Fact, Message, notification_send
from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.events import announce_secret_change
from secrets_app.models import Project, Secret, SecretType
from secrets_app.policy.enforcement import require
from secrets_app.quarantine import RefusedRead
from secrets_app.selectors.access import ProjectScope
from secrets_app.services.secrets import secret_delete

logger = logging.getLogger("strongroom.governance")
MANAGE = "governance.manage"
# One alert per secret and refused consumer within this window: a retry loop must not spam the owner.
REFUSAL_ALERT_SECONDS = 3600
MAX_BULK = 200


# --- who is told ---------------------------------------------------------------------------------


def secret_owner(secret: Secret) -> AbstractBaseUser | None:
    """The rotation owner, else the person who created the secret (None when neither is active)."""
    for person in (secret.rotation_owner, secret.created_by):
        if person is not None and person.is_active:
            return person
    return None


def former_consumers(secret: Secret) -> list[AbstractBaseUser]:
    """People the secret's value was delivered to, and for machine identities that received it the
    people who administer them (the project's and organization's admins)."""
    kinds = SecretDelivery.objects.filter(secret_id=secret.pk).values_list("consumer_kind", "consumer_id")
    user_ids = {consumer for kind, consumer in kinds if kind == ConsumerKind.USER}
    people: list[AbstractBaseUser] = list(
        get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("pk")
    )
    if any(kind == ConsumerKind.IDENTITY for kind, _ in kinds):
        people += project_admins(secret.project_id, secret.project.organization_id)
    return people


def _recipients(*groups: Iterable[AbstractBaseUser | None]) -> list[AbstractBaseUser]:
    seen: dict[int, AbstractBaseUser] = {}
    for group in groups:
        for person in group:
            if person is not None and person.pk not in seen:
                seen[person.pk] = person
    return list(seen.values())


def quarantine_page_url(project: Project) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("governance:quarantine", args=[project.slug])


def _place(secret: Secret) -> str:
    return f"{secret.environment.slug}:{secret.folder.path}"


def notify_secret_people(
    secret: Secret,
    *,
    kind: str,
    title: str,
    summary: str,
    people: Sequence[AbstractBaseUser],
    severity: str = "info",
    event_prefix: str = "governance.quarantine",
    link_label: str = "Open the quarantine page",
) -> None:
    """Queue one notification about *secret* (sent after the caller's transaction commits), event
    kind ``<event_prefix>.<kind>``, linking to the project's quarantine page. Never raises: a message
    that cannot be queued is logged by secret id and the action stands. Names only, never a value."""
    message = Message(
        event_kind=f"{event_prefix}.{kind}",
        title=title,
        summary=summary,
        facts=(
            Fact("Project", secret.project.name),
            Fact("Environment", secret.environment.slug),
            Fact("Path", secret.folder.path),
            Fact("Key", secret.key),
        ),
        link_label=link_label,
        severity=severity,
    )
    link = quarantine_page_url(secret.project)
    try:
        with transaction.atomic():
            notification_send(
                organization_id=secret.project.organization_id,
                project_id=secret.project_id,
                message=message,
                subject_ref=f"secret:{secret.pk}:{event_prefix}.{kind}",
                people=people,
                link_for=lambda _key: link,
            )
    except Exception:  # noqa: BLE001 - a notification never undoes the action it reports
        logger.exception(
            "governance: could not queue the %s.%s notification for secret %s", event_prefix, kind, secret.pk
        )


# --- reads the services share ---------------------------------------------------------------------


def _secret_for_update(scope: ProjectScope, secret_id: int) -> Secret:
    """The live secret *secret_id* of the scope's project, locked. NotFound otherwise."""
    secret = (
        Secret.objects.select_for_update(of=("self",))
        .filter(pk=secret_id, project=scope.project, deleted_at__isnull=True)
        .select_related("environment", "folder", "project", "rotation_owner", "created_by")
        .first()
    )
    if secret is None:
        raise NotFound("Secret not found", fields={"secret": ["not found"]})
    return secret


def last_delivered_at(secret_ids: Iterable[int]) -> dict[int, datetime.datetime]:
    """secret id -> when its value was last delivered to anyone (absent: never)."""
    rows = (
        SecretDelivery.objects.filter(secret_id__in=list(secret_ids))
        .values("secret_id")
        .annotate(last=Max("last_delivered_at"))
        .values_list("secret_id", "last")
    )
    return dict(rows)


def delivery_reason(last: datetime.datetime | None, now: datetime.datetime) -> str:
    return "never delivered" if last is None else f"not delivered for {(now - last).days} days"


# --- quarantine, restore ----------------------------------------------------------------------


def secret_quarantine(*, scope: ProjectScope, secret_id: int, reason: str = "") -> Quarantine:
    """Quarantine one live shared secret (``governance.manage``). Its value stops being delivered at
    once; the owner and every former consumer are told. Conflict when it is quarantined already."""
    require(scope, MANAGE)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ValidationFailed("reason", "must be at most 500 characters")
    now = timezone.now()
    with transaction.atomic():
        secret = _secret_for_update(scope, secret_id)
        if secret.type != SecretType.SHARED:
            raise ValidationFailed("secret", "a personal override cannot be quarantined")
        if secret.quarantined_at is not None:
            raise Conflict(f"Secret {secret.key} is already quarantined", fields={"secret": ["already quarantined"]})
        reason = reason or delivery_reason(last_delivered_at([secret.pk]).get(secret.pk), now)
        # .update(): quarantining is not an edit of the secret (updated_at stays)
        Secret.objects.filter(pk=secret.pk).update(quarantined_at=now)
        secret.quarantined_at = now
        quarantine = Quarantine.objects.create(
            secret=secret, project=scope.project, reason=reason, started_at=now, started_by=scope.principal.user
        )
        scope.audit(
            "secret.quarantined",
            environment=secret.environment.slug,
            path=secret.folder.path,
            resource_type="secret",
            resource_id=secret.key,
            metadata={"id": secret.pk, "reason": reason, "quarantine": quarantine.pk},
        )
        announce_secret_change(
            project_id=secret.project_id,
            environment_id=secret.environment_id,
            folder_id=secret.folder_id,
            access_epoch=scope.principal.access_epoch,
        )
        notify_secret_people(
            secret,
            kind="started",
            title=f"{secret.key} is quarantined",
            summary=(
                f"{secret.key} ({_place(secret)}) in {secret.project.name} was quarantined by {scope.principal.label} "
                f"({reason}). Reads of its value are refused and lists leave it out; if something still needs it, "
                "ask an admin to restore it."
            ),
            people=_recipients([secret_owner(secret)], former_consumers(secret)),
            severity="warning",
        )
    return quarantine


def secrets_quarantine(*, scope: ProjectScope, secret_ids: Sequence[int], reason: str = "") -> list[Quarantine]:
    """Bulk quarantine (the candidates page's one click): all or nothing."""
    if not secret_ids:
        raise ValidationFailed("secrets", "select at least one secret")
    if len(secret_ids) > MAX_BULK:
        raise ValidationFailed("secrets", f"at most {MAX_BULK} secrets at once")
    require(scope, MANAGE)
    with transaction.atomic():
        return [
            secret_quarantine(scope=scope, secret_id=secret_id, reason=reason)
            for secret_id in dict.fromkeys(secret_ids)
        ]


def _active_quarantine(secret: Secret) -> Quarantine | None:
    return Quarantine.objects.select_for_update().filter(secret=secret, status=QuarantineStatus.ACTIVE).first()


def secret_quarantine_restore(*, scope: ProjectScope, secret_id: int) -> Quarantine:
    """End the quarantine: the value is delivered again at once (``governance.manage``)."""
    require(scope, MANAGE)
    now = timezone.now()
    with transaction.atomic():
        secret = _secret_for_update(scope, secret_id)
        quarantine = _active_quarantine(secret)
        if secret.quarantined_at is None or quarantine is None:
            raise Conflict(f"Secret {secret.key} is not quarantined", fields={"secret": ["not quarantined"]})
        Secret.objects.filter(pk=secret.pk).update(quarantined_at=None)
        secret.quarantined_at = None
        quarantine.status = QuarantineStatus.RESTORED
        quarantine.ended_at = now
        quarantine.ended_by = scope.principal.user
        quarantine.save(update_fields=["status", "ended_at", "ended_by"])
        scope.audit(
            "secret.quarantine_restored",
            environment=secret.environment.slug,
            path=secret.folder.path,
            resource_type="secret",
            resource_id=secret.key,
            metadata={"id": secret.pk, "quarantine": quarantine.pk, "refused_reads": quarantine.refused_reads},
        )
        announce_secret_change(
            project_id=secret.project_id,
            environment_id=secret.environment_id,
            folder_id=secret.folder_id,
            access_epoch=scope.principal.access_epoch,
        )
        notify_secret_people(
            secret,
            kind="restored",
            title=f"{secret.key} is restored",
            summary=f"{secret.key} ({_place(secret)}) in {secret.project.name} was restored by "
            f"{scope.principal.label}: its value is delivered again.",
            people=_recipients([secret_owner(secret)], former_consumers(secret)),
        )
    return quarantine


# --- refused reads (the core's hook) ----------------------------------------------------------------


def quarantine_refusal_record(refused: RefusedRead) -> str | None:
    """Registered with the core (``secrets_app.quarantine``): count the refused read on the active
    quarantine (a refused read also withdraws a deletion proposal: the secret is evidently wanted)
    and alert the owner at once, at most once per secret and consumer per REFUSAL_ALERT_SECONDS.
    Returns the quarantine's reason for the 423's message."""
    principal = refused.scope.principal
    now = timezone.now()
    quarantine = (
        Quarantine.objects.filter(secret_id=refused.secret_id, status=QuarantineStatus.ACTIVE)
        .select_related("secret__project", "secret__environment", "secret__folder", "secret__rotation_owner")
        .select_related("secret__created_by")
        .first()
    )
    if quarantine is None:
        return None
    # One UPDATE, no row lock: a consumer in a retry loop must not queue behind itself.
    Quarantine.objects.filter(pk=quarantine.pk).update(
        refused_reads=F("refused_reads") + 1,
        last_refused_at=now,
        last_refused_to=principal.label[:200],
        deletion_proposed_at=None,
    )
    throttle = f"governance:quarantine-refusal:{quarantine.pk}:{quarantine.started_at.timestamp()}:{principal.key}"
    if cache.add(throttle, 1, REFUSAL_ALERT_SECONDS):
        secret = quarantine.secret
        owner = secret_owner(secret)
        notify_secret_people(
            secret,
            kind="read_refused",
            title=f"Someone still reads {secret.key}",
            summary=(
                f"{principal.label} asked for the value of quarantined {secret.key} ({_place(secret)}) in "
                f"{secret.project.name} and was refused. Restore it if this consumer needs it, or tell them "
                "it is going away."
            ),
            people=[owner] if owner is not None else project_admins(secret.project_id, secret.project.organization_id),
            severity="warning",
        )
    return quarantine.reason or None


# --- deletion proposed (beat), one-click delete -----------------------------------------------------


def quarantine_deletion_propose(*, now: datetime.datetime | None = None) -> int:
    """Beat: propose deletion of every active quarantine that has been quiet (no refused read) for
    its project's ``delete_after_quarantine_days``, once (compare-and-set on
    ``deletion_proposed_at``), to the owner and the project's admins. Never deletes anything.
    Returns how many were proposed."""
    now = now or timezone.now()
    active = list(
        Quarantine.objects.filter(
            status=QuarantineStatus.ACTIVE, deletion_proposed_at__isnull=True, secret__deleted_at__isnull=True
        ).select_related(
            "secret__project", "secret__environment", "secret__folder", "secret__rotation_owner", "secret__created_by"
        )
    )
    policies = policies_for(sorted({quarantine.project_id for quarantine in active}))
    proposed = 0
    for quarantine in active:
        quiet_since = max(quarantine.started_at, quarantine.last_refused_at or quarantine.started_at)
        quiet_days = policies[quarantine.project_id].delete_after_quarantine_days
        if now - quiet_since < datetime.timedelta(days=quiet_days):
            continue
        with transaction.atomic():
            claimed = Quarantine.objects.filter(
                pk=quarantine.pk,
                status=QuarantineStatus.ACTIVE,
                deletion_proposed_at__isnull=True,
                last_refused_at=quarantine.last_refused_at,  # a refusal since we read the row: still wanted
            ).update(deletion_proposed_at=now)
            if claimed != 1:
                continue
            secret = quarantine.secret
            audit_record(
                action="secret.quarantine_deletion_proposed",
                actor=SYSTEM_ACTOR,
                organization_id=secret.project.organization_id,
                project_id=secret.project_id,
                environment=secret.environment.slug,
                path=secret.folder.path,
                resource_type="secret",
                resource_id=secret.key,
                metadata={"id": secret.pk, "quarantine": quarantine.pk, "quiet_days": quiet_days},
            )
            notify_secret_people(
                secret,
                kind="deletion_proposed",
                title=f"Delete {secret.key}?",
                summary=(
                    f"{secret.key} ({_place(secret)}) in {secret.project.name} has been quarantined for "
                    f"{(now - quarantine.started_at).days} days with no read refused for {quiet_days} days. "
                    "Delete it with one click on the quarantine page (a folder rollback brings it back), "
                    "or restore it. Nothing is deleted automatically."
                ),
                people=_recipients(
                    [secret_owner(secret)], project_admins(secret.project_id, secret.project.organization_id)
                ),
            )
            proposed += 1
    return proposed


def secret_quarantine_delete(*, scope: ProjectScope, secret_id: int) -> Quarantine:
    """The one-click delete of a quarantined secret whose deletion was proposed: the ordinary
    delete service (audited ``secret.deleted``, recoverable with a folder rollback; a change policy
    may hold it for review), then the quarantine ends as deleted. The secret's quarantine mark is
    cleared so a rollback brings it back as an ordinary, delivered secret."""
    require(scope, MANAGE)
    secret = (
        Secret.objects.filter(pk=secret_id, project=scope.project, deleted_at__isnull=True)
        .select_related("environment", "folder")
        .first()
    )
    quarantine = (
        Quarantine.objects.filter(secret_id=secret_id, status=QuarantineStatus.ACTIVE).first()
        if secret is not None
        else None
    )
    if secret is None or quarantine is None:
        raise NotFound("No quarantined secret with this id", fields={"secret": ["not quarantined"]})
    if quarantine.deletion_proposed_at is None:
        raise Conflict(
            f"Deletion of {secret.key} is not proposed yet (after the policy's quiet days); restore it or wait",
            fields={"secret": ["deletion not proposed"]},
        )
    # Outside our transaction: a refusal or a held change request is recorded by the service itself.
    secret_delete(scope=scope, environment=secret.environment.slug, path=secret.folder.path, key=secret.key)
    with transaction.atomic():
        Secret.objects.filter(pk=secret.pk).update(quarantined_at=None)
        Quarantine.objects.filter(pk=quarantine.pk, status=QuarantineStatus.ACTIVE).update(
            status=QuarantineStatus.DELETED, ended_at=timezone.now(), ended_by=scope.principal.user
        )
    quarantine.refresh_from_db()
    return quarantine

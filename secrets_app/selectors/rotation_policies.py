"""Rotation policies of ordinary secrets: when each is due, and which are due in a project.

A secret with a policy ("rotate every N days") is due at its last value change (the newest
version's creation) plus N days. A reveal in an environment that marks reveals
(``Environment.reveal_marks_due``) makes it due at the reveal, policy or not, until a newer version
replaces the revealed value. "Due soon" means due within ``STRONGROOM_ROTATION_DUE_SOON_DAYS``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from secrets_app.models import Secret, SecretType
from secrets_app.reveal_rotation import RevealRotation, reveal_rotation_name
from secrets_app.selectors.access import ProjectScope


class DueStatus:
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    OK = "ok"


def rotation_due_at(
    *, last_change: datetime.datetime | None, interval_days: int | None, marked_at: datetime.datetime | None
) -> datetime.datetime | None:
    """When the secret is due. Returns None when it has neither a policy nor a standing reveal mark.
    A mark older than the last value change no longer counts: that value was replaced."""
    candidates = []
    if interval_days and last_change is not None:
        candidates.append(last_change + datetime.timedelta(days=interval_days))
    if marked_at is not None and (last_change is None or marked_at >= last_change):
        candidates.append(marked_at)
    return min(candidates) if candidates else None


def due_status(due_at: datetime.datetime | None, *, now: datetime.datetime | None = None) -> str:
    if due_at is None:
        return DueStatus.OK
    now = now or timezone.now()
    if due_at <= now:
        return DueStatus.OVERDUE
    if due_at <= now + datetime.timedelta(days=settings.STRONGROOM_ROTATION_DUE_SOON_DAYS):
        return DueStatus.DUE_SOON
    return DueStatus.OK


@dataclass
class DueSecret:
    id: int
    key: str
    environment: str
    path: str
    interval_days: int | None
    owner: str
    owner_id: int | None
    last_changed_at: datetime.datetime | None
    marked_at: datetime.datetime | None
    due_at: datetime.datetime
    status: str


def _with_policy() -> QuerySet[Secret]:
    """Live shared secrets that carry a policy or a reveal mark, with their last value change."""
    return (
        Secret.objects.filter(deleted_at__isnull=True, type=SecretType.SHARED)
        .filter(Q(rotation_interval_days__isnull=False) | Q(rotation_due_at__isnull=False))
        .annotate(last_change=Max("versions__created_at"))
        .select_related("environment", "folder", "rotation_owner")
        .prefetch_related("tags")
        .order_by("environment__position", "folder__path", "key")
    )


def due_view(secret: Secret, *, now: datetime.datetime | None = None) -> DueSecret | None:
    """The secret as a due entry; None when it is not overdue nor due soon."""
    last_change = getattr(secret, "last_change", None)
    if last_change is None:
        last_change = secret.versions.aggregate(last=Max("created_at"))["last"]
    due_at = rotation_due_at(
        last_change=last_change, interval_days=secret.rotation_interval_days, marked_at=secret.rotation_due_at
    )
    status = due_status(due_at, now=now)
    if due_at is None or status == DueStatus.OK:
        return None
    owner = secret.rotation_owner
    return DueSecret(
        id=secret.pk,
        key=secret.key,
        environment=secret.environment.slug,
        path=secret.folder.path,
        interval_days=secret.rotation_interval_days,
        owner=owner.get_username() if owner is not None else "",
        owner_id=owner.pk if owner is not None else None,
        last_changed_at=last_change,
        marked_at=secret.rotation_due_at,
        due_at=due_at,
        status=status,
    )


def secrets_due_all(*, now: datetime.datetime | None = None) -> Iterable[tuple[Secret, DueSecret]]:
    """Every overdue or due-soon secret of every project (the reminder sweep; no permission filter)."""
    for secret in _with_policy().select_related("project").iterator(chunk_size=500):
        entry = due_view(secret, now=now)
        if entry is not None:
            yield secret, entry


def secrets_due(scope: ProjectScope, *, now: datetime.datetime | None = None) -> list[DueSecret]:
    """Overdue and due-soon secrets of the project whose names the caller may list (checked per
    secret, with its tags), most overdue first."""
    found = []
    for secret in _with_policy().filter(project=scope.project):
        tags = [tag.slug for tag in secret.tags.all()]
        if not scope.access.can(
            "secrets.read", environment=secret.environment.slug, path=secret.folder.path, tags=tags
        ):
            continue
        entry = due_view(secret, now=now)
        if entry is not None:
            found.append(entry)
    return sorted(found, key=lambda entry: entry.due_at)


def rotation_owner_choices(scope: ProjectScope) -> list[tuple[int, str]]:
    """(user id, username) of the active people of the project's organization: possible owners."""
    from secrets_app.models import OrganizationMembership

    rows = (
        OrganizationMembership.objects.filter(organization_id=scope.project.organization_id, user__is_active=True)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )
    return [(user_id, username) for user_id, username in rows]


def reveal_marks_due(scope: ProjectScope, environment: str) -> bool:
    """Whether a reveal in this environment of the project marks the value due for rotation."""
    from secrets_app.models import Environment

    return Environment.objects.filter(project=scope.project, slug=environment, reveal_marks_due=True).exists()


def reveal_rotation_get(scope: ProjectScope, environment: str, path: str, key: str) -> RevealRotation | None:
    """The rotation a reveal of this secret queues (and within how many hours), or None: the
    environment does not mark reveals, or no (unpaused) rotation owns the secret, whose reveal then
    marks it due instead."""
    from secrets_app.models import Environment

    env = Environment.objects.filter(project=scope.project, slug=environment, reveal_marks_due=True).first()
    if env is None:
        return None
    name = reveal_rotation_name(project_id=scope.project.pk, environment=environment, path=path, key=key)
    return RevealRotation(name=name, within_hours=env.reveal_rotation_hours) if name else None


def secret_rotation_policy_get(scope: ProjectScope, secret_id: int) -> Secret | None:
    """The secret row with its policy fields (the caller has already read the secret's name)."""
    return (
        Secret.objects.filter(pk=secret_id, project=scope.project)
        .annotate(last_change=Max("versions__created_at"))
        .select_related("rotation_owner", "environment", "folder")
        .first()
    )

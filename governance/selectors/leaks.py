"""Leak flags that are in force. A flag is active while nobody cleared it and the secret still holds
the value it was raised on: a new version (rotation, edit, rollback) ends it by itself, so nothing
has to clear flags when values change."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, QuerySet

from governance.models import LeakFlag
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope


def active_leak_flags(
    *, project_ids: Iterable[int] | None = None, secret_ids: Iterable[int] | None = None
) -> QuerySet[LeakFlag]:
    """Active flags (``cleared_at`` null, ``flagged_version`` equal to the secret's version, the
    secret live) of the given projects and/or secrets, newest first. No permission filtering: the
    caller passes ids it already resolved through its scope. Neither argument: every active flag."""
    flags = LeakFlag.objects.filter(
        cleared_at__isnull=True,
        flagged_version=F("secret__version"),
        secret__deleted_at__isnull=True,
    )
    if project_ids is not None:
        flags = flags.filter(project_id__in=list(project_ids))
    if secret_ids is not None:
        flags = flags.filter(secret_id__in=list(secret_ids))
    return flags.order_by("-id")


def leaked_secret_ids(*, project_ids: Iterable[int] | None = None, secret_ids: Iterable[int] | None = None) -> set[int]:
    """The ids of secrets with at least one active flag (one query)."""
    return set(
        active_leak_flags(project_ids=project_ids, secret_ids=secret_ids).values_list("secret_id", flat=True).distinct()
    )


def leak_flag_list(scope: ProjectScope, *, include_ended: bool = False) -> list[LeakFlag]:
    """The project's leak flags for people (``governance.read``): the active ones, or with
    *include_ended* every flag (``active`` set on each), newest first, each with its secret."""
    require(scope, "governance.read")
    active_ids = set(active_leak_flags(project_ids=[scope.project.pk]).values_list("pk", flat=True))
    rows = LeakFlag.objects.filter(project=scope.project).select_related(
        "secret__environment", "secret__folder", "flagged_by", "cleared_by"
    )
    if not include_ended:
        rows = rows.filter(pk__in=active_ids)
    flags = list(rows.order_by("-id")[:1000])
    for flag in flags:
        flag.active = flag.pk in active_ids  # type: ignore[attr-defined]
    return flags

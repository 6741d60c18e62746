"""Reads of temporary access grants (display; enforcement is ``selectors.access.project_access``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from secrets_app.models import TemporaryAccessGrant


def temporary_grants_for(user: Any) -> QuerySet[TemporaryAccessGrant]:
    """The person's grants open now, soonest to end first; each has ``seconds_left``."""
    now = timezone.now()
    return (
        TemporaryAccessGrant.objects.filter(
            user_id=user.pk, revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now
        )
        .select_related("project", "project__organization")
        .order_by("ends_at", "id")
    )

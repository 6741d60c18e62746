"""Reads for the API and UI (permission checks through ``syncs.access``)."""

from __future__ import annotations

from django.db.models import QuerySet

from secrets_app.selectors.access import ProjectScope
from syncs.access import require_syncs
from syncs.models import SecretSync, SyncRun
from syncs.providers.registry import provider_for

RUN_HISTORY = 50


def sync_list(scope: ProjectScope) -> QuerySet[SecretSync]:
    require_syncs(scope, "syncs.read")
    return (
        SecretSync.objects.filter(project=scope.project)
        .select_related("environment", "connection", "owner")
        .order_by("name")
    )


def sync_runs(sync: SecretSync, limit: int = RUN_HISTORY) -> list[SyncRun]:
    return list(sync.runs.order_by("-started_at", "-id")[:limit])


def drift_note(sync: SecretSync) -> str:
    """What drift detection can and cannot see for this destination (shown next to the results)."""
    try:
        provider = provider_for(sync.connection.kind)
    except Exception:
        return ""
    if provider.reveals_values:
        return "The destination returns values: changed values are detected and can be adopted."
    return (
        "Azure DevOps never returns secret values. Detected: deleted variables, variables made plain, "
        "variables this sync does not manage, and edits of the group by someone else (every managed "
        "secret is then 'possibly changed'). Such values cannot be adopted; overwrite rewrites them."
    )

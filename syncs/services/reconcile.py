"""The beat-driven safety net: correctness never depends on one Celery message arriving.

``syncs_reconcile`` (every 30 s):
- a RUNNING sync whose heartbeat is older than the stale window: its worker died. The run row is
  marked interrupted (audited) and the sync goes back to QUEUED now, so the next worker resumes it
  (the destination converges: managed keys were recorded per batch);
- QUEUED syncs that are due but were not picked up (lost message, broker outage): message again;
- auto syncs whose source changed after their last success and that are idle: queue them.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from syncs.models import RunStatus, SecretSync, SyncRun, SyncStatus
from syncs.services.queue import send_run_message, sync_request_run
from syncs.services.runs import sync_actor


def syncs_reconcile() -> dict[str, int]:
    now = timezone.now()
    stale_before = now - datetime.timedelta(seconds=settings.STRONGROOM_SYNC_HEARTBEAT_STALE_SECONDS)
    counts = {"stale": 0, "resent": 0, "queued": 0}

    for sync in SecretSync.objects.filter(status=SyncStatus.RUNNING, heartbeat_at__lt=stale_before).select_related(
        "project", "environment"
    ):
        moved = SecretSync.objects.filter(pk=sync.pk, status=SyncStatus.RUNNING, heartbeat_at__lt=stale_before).update(
            status=SyncStatus.QUEUED,
            next_attempt_at=now,
            trigger="reconcile",
            last_error="the worker stopped during the run; it is being resumed",
            last_error_at=now,
        )
        if not moved:
            continue
        counts["stale"] += 1
        for run in SyncRun.objects.filter(sync=sync, status=RunStatus.RUNNING):
            SyncRun.objects.filter(pk=run.pk).update(
                status=RunStatus.INTERRUPTED, finished_at=now, error="the worker stopped during the run"
            )
            audit_record(
                action="sync.run_interrupted",
                actor=sync_actor(sync),
                outcome=Outcome.ERROR,
                organization_id=sync.project.organization_id,
                project_id=sync.project_id,
                environment=sync.environment.slug,
                path=sync.path,
                resource_type="sync",
                resource_id=str(sync.public_id),
                metadata={"run": run.pk, "attempt": run.attempt},
            )
        send_run_message(sync.pk)

    # Due but not picked up for a while (a message lost, or a retry beyond the broker's horizon).
    overdue = now - datetime.timedelta(seconds=5)
    for sync_id in (
        SecretSync.objects.filter(status=SyncStatus.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=overdue))
        .values_list("id", flat=True)
    ):
        send_run_message(sync_id)
        counts["resent"] += 1

    # Source changed after the last success, and nothing is queued.
    for sync_id in (
        SecretSync.objects.filter(auto_sync=True, status__in=[SyncStatus.SUCCEEDED, SyncStatus.IDLE])
        .filter(source_changed_at__isnull=False)
        .filter(Q(last_success_at__isnull=True) | Q(source_changed_at__gt=F("last_success_at")))
        .values_list("id", flat=True)
    ):
        if sync_request_run(sync_id=sync_id, trigger="reconcile", countdown=0):
            counts["queued"] += 1
    return counts


def syncs_due_for_drift_check() -> list[int]:
    """Syncs that have succeeded at least once (there is something applied to compare with)."""
    return list(SecretSync.objects.filter(last_success_at__isnull=False).values_list("id", flat=True))

"""The beat-driven safety net of estate scans (``estate.tasks.estate_scans_reconcile``, every minute).

- A RUNNING scan whose heartbeat is older than ``STRONGROOM_ESTATE_STALE_SECONDS``: its worker
  died. It goes back to QUEUED (audited ``estate.scan_interrupted``) and is sent again; the next
  attempt resumes after ``done_projects``. After ``MAX_ATTEMPTS`` attempts it fails instead.
- A QUEUED scan not picked up for ``RESEND_AFTER_SECONDS`` (a lost message, a broker outage) is
  sent again; duplicates are harmless (the claim is a compare-and-set).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from estate.models import EstateScan, ScanStatus
from estate.services.scan_run import scan_actor
from estate.services.scans import send_scan_message

MAX_ATTEMPTS = 5
RESEND_AFTER_SECONDS = 30


def scans_reconcile() -> dict[str, int]:
    """Re-queue stale running scans and re-send forgotten queued ones. Returns the counts."""
    now = timezone.now()
    stale_before = now - datetime.timedelta(seconds=settings.STRONGROOM_ESTATE_STALE_SECONDS)
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    requeued: set[int] = set()
    stale = EstateScan.objects.filter(status=ScanStatus.RUNNING, heartbeat_at__lt=stale_before)
    for scan in stale:
        give_up = scan.attempts >= MAX_ATTEMPTS
        with transaction.atomic():
            moved = EstateScan.objects.filter(
                pk=scan.pk, status=ScanStatus.RUNNING, heartbeat_at__lt=stale_before
            ).update(
                **(
                    {
                        "status": ScanStatus.FAILED,
                        "finished_at": now,
                        "error": f"the scan's worker stopped {scan.attempts} times; run it again",
                    }
                    if give_up
                    else {"status": ScanStatus.QUEUED, "progress": {**(scan.progress or {}), "phase": "requeued"}}
                )
            )
            if not moved:
                continue
            audit_record(
                action="estate.scan_failed" if give_up else "estate.scan_interrupted",
                actor=scan_actor(scan),
                outcome=Outcome.ERROR,
                organization_id=scan.organization_id,
                resource_type="estate_scan",
                resource_id=str(scan.public_id),
                metadata={
                    "organization_url": scan.org_url,
                    "attempt": scan.attempts,
                    "projects_done": len(scan.done_projects or []),
                },
            )
            if not give_up:
                pk = scan.pk
                transaction.on_commit(lambda pk=pk: send_scan_message(pk))  # type: ignore[misc]
        counts["failed" if give_up else "requeued"] += 1
        requeued.add(scan.pk)
    forgotten = now - datetime.timedelta(seconds=RESEND_AFTER_SECONDS)
    for scan_id in EstateScan.objects.filter(status=ScanStatus.QUEUED, queued_at__lt=forgotten).values_list(
        "id", flat=True
    ):
        if scan_id not in requeued:
            send_scan_message(scan_id)
            counts["resent"] += 1
    return counts

"""Celery tasks of the estate: thin, ids only. ``estate_scan_run`` runs one attempt of a scan
(claimed by compare-and-set: duplicates are no-ops); ``estate_scans_reconcile`` (beat, every
minute) is the safety net that makes the status column, not the message, the truth."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="estate.tasks.estate_scan_run", acks_late=True, reject_on_worker_lost=True)
def estate_scan_run(scan_id: int) -> str:
    from estate.services.scan_run import scan_run_execute

    return scan_run_execute(scan_id=scan_id)


@shared_task(name="estate.tasks.estate_scans_reconcile", acks_late=True, reject_on_worker_lost=True)
def estate_scans_reconcile() -> dict[str, int]:
    from estate.services.scan_reconcile import scans_reconcile

    return scans_reconcile()

"""Celery interface to the audit services. Thin: each task calls one service."""

from __future__ import annotations

from celery import shared_task

from audit import sealing


@shared_task(name="audit.tasks.audit_seal_pending", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def audit_seal_pending() -> int:
    """Beat-driven (config/settings.py, every 5 s). Idempotent; overlapping runs are harmless."""
    return sealing.audit_seal_pending()

"""Celery interface to the audit services. Thin: each task calls one service."""

from __future__ import annotations

from celery import shared_task

from audit import noise, sealing


@shared_task(name="audit.tasks.audit_seal_pending", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def audit_seal_pending() -> int:
    """Beat-driven (config/settings.py, every 5 s). Idempotent; overlapping runs are harmless."""
    return sealing.audit_seal_pending()


@shared_task(name="audit.tasks.audit_denials_flush", ignore_result=True)
def audit_denials_flush() -> int:
    """Beat-driven (config/settings.py, every 30 s): summaries of ended denial windows that no later
    denial claimed. Idempotent; overlapping runs write each summary once (audit/noise.py)."""
    return noise.audit_denials_flush()

"""Celery task of the quarantine (imported by ``GovernanceConfig.ready`` so the worker knows it;
``governance/tasks.py`` holds the engine's)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="governance.tasks_quarantine.deletion_propose", acks_late=True, reject_on_worker_lost=True)
def quarantine_deletion_propose_task() -> int:
    """Beat (hourly): propose deletion of quarantines quiet for their policy's days. Never deletes."""
    from governance.services.quarantine import quarantine_deletion_propose

    return quarantine_deletion_propose()

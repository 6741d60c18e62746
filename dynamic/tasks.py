"""Celery tasks: thin, ids only, acks_late + reject_on_worker_lost. Each calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="dynamic.tasks.lease_revoke", acks_late=True, reject_on_worker_lost=True)
def lease_revoke_task(lease_id: int) -> str:
    """Revoke one lease if it is due (claimed by compare-and-set: duplicates are no-ops). A failure
    schedules its own retry message (``dynamic.services.revocation``)."""
    from dynamic.services.revocation import lease_revoke_execute

    return lease_revoke_execute(lease_id=lease_id).status


@shared_task(name="dynamic.tasks.leases_sweep", acks_late=True, reject_on_worker_lost=True)
def leases_sweep_task() -> dict[str, int]:
    """Beat: send the revocation message of every due lease whose message is missing or lost."""
    from dynamic.services.revocation import leases_sweep

    return leases_sweep()


@shared_task(name="dynamic.tasks.ado_runs_poll", acks_late=True, reject_on_worker_lost=True)
def ado_runs_poll_task() -> dict[str, int]:
    """Beat: end the leases of Azure DevOps runs that completed while their hook was lost
    (subscriptions on probation drop events); forget old hook event ids."""
    from dynamic.services.ado_hooks import ado_hook_events_prune
    from dynamic.services.ado_runs import ado_runs_poll

    counts = ado_runs_poll()
    counts["events_pruned"] = ado_hook_events_prune()
    return counts

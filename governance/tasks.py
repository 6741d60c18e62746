"""Celery tasks: thin beat-driven wrappers around the governance engine (``governance.services``)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="governance.tasks.deliveries_refresh", acks_late=True, reject_on_worker_lost=True)
def deliveries_refresh_task() -> int:
    """Beat (every 30 s): fold new read events into deliveries, for at most 20 s per run."""
    from governance.services.deliveries import deliveries_catch_up

    return deliveries_catch_up(seconds=20.0)


@shared_task(name="governance.tasks.risk_refresh", acks_late=True, reject_on_worker_lost=True)
def risk_refresh_task() -> int:
    """Beat (every 5 min): recompute every live secret's risk row."""
    from governance.services.risk import risk_refresh

    return risk_refresh()


@shared_task(name="governance.tasks.snapshots_refresh", acks_late=True, reject_on_worker_lost=True)
def snapshots_refresh_task() -> int:
    """Beat (every 5 min, after the risk rows): today's figures of every organization and project."""
    from governance.services.snapshots import snapshots_refresh

    return snapshots_refresh()

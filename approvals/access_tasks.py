"""Beat tasks of access requests: thin wrappers over the services (idempotent, safe to run twice).
Imported by ``approvals.tasks`` so the worker registers them."""

from __future__ import annotations

from celery import shared_task

from approvals.services.access_requests import access_requests_expire, access_requests_remind


@shared_task(name="approvals.tasks.access_requests_expire_due", acks_late=True, reject_on_worker_lost=True)
def access_requests_expire_due() -> int:
    return access_requests_expire()


@shared_task(name="approvals.tasks.access_request_reminders", acks_late=True, reject_on_worker_lost=True)
def access_request_reminders() -> int:
    return access_requests_remind()

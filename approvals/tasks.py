"""Beat tasks of approvals: thin wrappers over the services (idempotent, safe to run twice)."""

from __future__ import annotations

from celery import shared_task

from approvals.services.change_request_jobs import change_request_reminders_send, change_requests_expire


@shared_task(name="approvals.tasks.change_requests_expire_due", acks_late=True, reject_on_worker_lost=True)
def change_requests_expire_due() -> int:
    return change_requests_expire()


@shared_task(name="approvals.tasks.change_request_reminders", acks_late=True, reject_on_worker_lost=True)
def change_request_reminders() -> int:
    return change_request_reminders_send()


# Access requests' beat tasks live in their own module; imported here so the worker registers them.
from approvals.access_tasks import access_request_reminders, access_requests_expire_due  # noqa: E402, F401

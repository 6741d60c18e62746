"""Celery tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from secrets_app.services.keys import data_key_reencrypt, data_key_reencrypt_pending, data_key_usage_check


@shared_task(name="secrets_app.tasks.data_key_reencrypt", acks_late=True, reject_on_worker_lost=True)
def data_key_reencrypt_task(project_id: int) -> int:
    """Move one batch; re-enqueue itself until nothing is left (idempotent per batch)."""
    moved = data_key_reencrypt(project_id=project_id)
    if moved:
        data_key_reencrypt_task.delay(project_id)
    return moved


@shared_task(name="secrets_app.tasks.data_keys_usage_check", acks_late=True, reject_on_worker_lost=True)
def data_keys_usage_check_task() -> list[int]:
    rotated = data_key_usage_check(max_encryptions=settings.STRONGROOM_DATA_KEY_MAX_ENCRYPTIONS)
    for project_id in rotated:
        data_key_reencrypt_task.delay(project_id)
    return rotated


@shared_task(name="secrets_app.tasks.data_keys_reencrypt_reconcile", acks_late=True, reject_on_worker_lost=True)
def data_keys_reencrypt_reconcile_task() -> list[int]:
    """Beat-driven: queue re-encryption for projects still behind their newest data key."""
    pending = data_key_reencrypt_pending()
    for project_id in pending:
        data_key_reencrypt_task.delay(project_id)
    return pending


@shared_task(name="secrets_app.tasks.secret_last_read_refresh", acks_late=True, reject_on_worker_lost=True)
def secret_last_read_refresh_task() -> int:
    from secrets_app.services.last_read import secret_last_read_refresh

    return secret_last_read_refresh()


@shared_task(name="secrets_app.tasks.temporary_grants_tidy", acks_late=True, reject_on_worker_lost=True)
def temporary_grants_tidy_task() -> int:
    """Beat: record the end of temporary grants (display only; the permission check ignores them)."""
    from secrets_app.services.temporary_grants import temporary_grants_tidy

    return temporary_grants_tidy()


@shared_task(name="secrets_app.tasks.rotation_policy_reminders", acks_late=True, reject_on_worker_lost=True)
def rotation_policy_reminders_task() -> int:
    """Beat-driven (daily by default): remind owners of secrets that became overdue or due soon."""
    from secrets_app.services.rotation_reminders import rotation_reminders_send

    return rotation_reminders_send()

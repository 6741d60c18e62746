"""Tell a sync's owner it failed for good (email). Runs after the failure is committed; a mail
server that is down is logged, never fatal (the failure is already visible and audited)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from syncs.models import SecretSync, SyncRun

logger = logging.getLogger("strongroom.syncs")


def sync_failure_notify(*, sync_id: int, run_id: int) -> bool:
    sync = SecretSync.objects.select_related("owner", "project", "environment").filter(pk=sync_id).first()
    run = SyncRun.objects.filter(pk=run_id).first()
    if sync is None or run is None or not sync.owner.email:
        return False
    link = f"{settings.SITE_URL.rstrip('/')}/projects/{sync.project.slug}/syncs/{sync.public_id}/"
    body = (
        f"The secret sync '{sync.name}' of project {sync.project.name} "
        f"({sync.environment.slug}:{sync.path}) failed and will not be retried automatically.\n\n"
        f"Error: {run.error}\n"
        f"Attempt: {run.attempt}\n\n"
        f"It runs again when a secret in its source changes, or when you press 'Sync now':\n{link}\n"
    )
    try:
        send_mail(
            subject=f"[Strongroom] Sync '{sync.name}' failed",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[sync.owner.email],
        )
    except Exception as exc:
        logger.warning("sync %s: failure notification not sent (%s)", sync_id, type(exc).__name__)
        return False
    return True

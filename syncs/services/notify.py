"""Tell a sync's owner it failed for good, through the notifications app: a ``syncs.failed``
notification with one e-mail to the owner (and any org channel routed ``syncs.*``), delivered by
Celery with retries and visible per delivery — a mail server that is down no longer loses it."""

from __future__ import annotations

from django.conf import settings

from notifications.models import Notification
from notifications.services import Fact, Message, notification_send
from syncs.models import SecretSync, SyncRun


def sync_failure_notify(*, sync_id: int, run_id: int) -> Notification | None:
    """Record the notification (deliveries go out after commit). None when the sync or run is gone."""
    sync = SecretSync.objects.select_related("owner", "project", "environment", "connection").filter(pk=sync_id).first()
    run = SyncRun.objects.filter(pk=run_id).first()
    if sync is None or run is None:
        return None
    link = f"{settings.SITE_URL.rstrip('/')}/projects/{sync.project.slug}/syncs/{sync.public_id}/"
    message = Message(
        event_kind="syncs.failed",
        title=f"Sync '{sync.name}' failed",
        summary=(
            f"The secret sync '{sync.name}' of project {sync.project.name} failed and will not be retried "
            "automatically. It runs again when a secret in its source changes, or when you press 'Sync now'."
        ),
        facts=(
            Fact("Project", sync.project.name),
            Fact("Source", f"{sync.environment.slug}:{sync.path}"),
            Fact("Destination", sync.connection.kind),
            Fact("Error", run.error),
            Fact("Attempt", str(run.attempt)),
        ),
        link_label="Open the sync",
        severity="warning",
    )
    return notification_send(
        organization_id=sync.project.organization_id,
        project_id=sync.project_id,
        message=message,
        subject_ref=f"sync_run:{run.pk}",
        people=[sync.owner],
        link_for=lambda recipient: link,
    )

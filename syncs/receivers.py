"""Reacting to secret writes (``secrets_app.events.secret_changed``, sent after commit).

Every auto sync of the changed project is marked (``source_changed_at``) and queued (debounced:
a sync already queued or running is not queued twice; a running one runs again afterwards).
Not only syncs whose folder changed: a source can import other folders and reference secrets
anywhere in its project, and a run that finds nothing to change writes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from access_cache.store import access_cache
from secrets_app.events import secret_changed
from syncs.models import SecretSync
from syncs.services.queue import sync_request_run

logger = logging.getLogger("strongroom.syncs")


def _auto_sync_ids(project_id: int) -> list[int]:
    """The project's syncs that follow its changes (a watched choice: access_cache/epoch.py)."""
    return list(SecretSync.objects.filter(project_id=project_id, auto_sync=True).values_list("id", flat=True))


@receiver(secret_changed, dispatch_uid="syncs.on_secret_changed")
def on_secret_changed(sender: Any, project_id: int, environment_id: int, folder_id: int, **kwargs: Any) -> None:
    # Runs after the secret write committed: a failure here must not turn that success into an
    # error answer. The reconciler re-queues from source_changed_at; a broker outage is logged.
    try:
        sync_ids = access_cache.get_or_compute(
            kwargs.get("access_epoch"), ("auto_syncs", project_id), lambda: (_auto_sync_ids(project_id), None)
        )
        if not sync_ids:
            return
        with transaction.atomic():
            for sync_id in sync_ids:
                sync_request_run(sync_id=sync_id, trigger="source_change", source_changed=True)
    except Exception as exc:
        logger.error("syncs of project %s not queued after a secret change: %s", project_id, type(exc).__name__)

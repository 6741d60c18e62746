"""Domain signals other apps listen to (syncs react to secret writes; secrets_app never imports them)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with project_id, environment_id, folder_id when a folder's secrets changed.
secret_changed = Signal()


def announce_secret_change(*, project_id: int, environment_id: int, folder_id: int) -> None:
    transaction.on_commit(
        lambda: secret_changed.send(
            sender="secrets_app", project_id=project_id, environment_id=environment_id, folder_id=folder_id
        )
    )

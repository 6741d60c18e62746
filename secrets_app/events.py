"""Domain signals other apps listen to (syncs react to secret writes; secrets_app never imports them)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with project_id, environment_id, folder_id (and the writer's access_epoch, or
# None) when a folder's secrets changed.
secret_changed = Signal()

# Sent inside a machine login's transaction, after its access token row exists, with ``token``
# (the IdentityAccessToken), ``config`` (the auth method's row) and ``claims`` (the verified JWT
# claims; empty for methods without a JWT). Receivers may record what the claims prove (the
# dynamic app records the Azure DevOps run of a pipeline token); raising refuses the login.
machine_login_verified = Signal()


def announce_secret_change(
    *, project_id: int, environment_id: int, folder_id: int, access_epoch: int | None = None
) -> None:
    """*access_epoch*: the writer's (access_cache), so receivers may answer their lookups from the
    per-process cache of that epoch."""
    transaction.on_commit(
        lambda: secret_changed.send(
            sender="secrets_app",
            project_id=project_id,
            environment_id=environment_id,
            folder_id=folder_id,
            access_epoch=access_epoch,
        )
    )


# Sent after commit when a person revealed a value in the UI, with ``project`` (Project),
# ``environment`` (slug), ``path``, ``key``, ``actor`` (the user) and ``secret_id`` (the row read:
# a personal override is a row of its own). The rotation app queues the rotation owning a revealed
# credential from here; receivers must never need the value.
secret_revealed = Signal()


def announce_secret_revealed(
    *, project: object, environment: str, path: str, key: str, actor: object, secret_id: int | None = None
) -> None:
    transaction.on_commit(
        lambda: secret_revealed.send(
            sender="secrets_app",
            project=project,
            environment=environment,
            path=path,
            key=key,
            actor=actor,
            secret_id=secret_id,
        )
    )

"""Writing secret versions and folder commits (point-in-time recovery). Internal to services."""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.conf import settings
from django.db import connection
from django.utils import timezone

from secrets_app.crypto.secret_fields import encrypt_field
from secrets_app.models import Folder, FolderCommit, FolderCommitHead, Secret, SecretVersion
from secrets_app.principals import Principal

# A checkpoint (the folder's whole state) every this many commits of a folder, so rebuilding a
# commit's state reads one snapshot and at most this many deltas. settings.FOLDER_COMMIT_CHECKPOINT_EVERY
# overrides it.
CHECKPOINT_EVERY = 500

# One statement that locks the folder's head row (inserting it on the folder's first commit) and
# returns the commit count and running live count including this commit. An UPDATE that waited for
# another writer's lock sees that writer's committed row (PostgreSQL re-reads it), so counts never
# go backwards. Plain SQL: the ORM has no upsert that returns the updated row.
_ADVANCE_HEAD = (
    "INSERT INTO secrets_app_foldercommithead AS head (folder_id, commits, live_count) VALUES (%s, 1, %s) "
    "ON CONFLICT (folder_id) DO UPDATE SET commits = head.commits + 1, "
    "live_count = head.live_count + excluded.live_count "
    "RETURNING commits, live_count"
)
# PostgreSQL: the same, and the commit's row in the same statement unless it is a checkpoint (then
# no row is written and the caller snapshots the folder in a statement of its own, which, started
# after the lock was taken, sees every commit before it). Returns commits, live count, the new id.
_ADVANCE_HEAD_AND_WRITE = (
    "WITH advanced AS ("
    "INSERT INTO secrets_app_foldercommithead AS head (folder_id, commits, live_count) VALUES (%s, 1, %s) "
    "ON CONFLICT (folder_id) DO UPDATE SET commits = head.commits + 1, "
    "live_count = head.live_count + excluded.live_count "
    "RETURNING commits, live_count), "
    "written AS ("
    "INSERT INTO secrets_app_foldercommit (folder_id, state, changes, live_count, message, actor_label, created_at) "
    "SELECT %s, NULL, %s::jsonb, GREATEST(advanced.live_count, 0), %s, %s, %s FROM advanced "
    "WHERE (advanced.commits - 1) %% %s <> 0 RETURNING id) "
    "SELECT advanced.commits, advanced.live_count, (SELECT id FROM written) FROM advanced"
)


def _version_row(
    *, secret: Secret, number: int, value: bytes, comment: bytes | None, change: str, principal: Principal | None
) -> SecretVersion:
    return SecretVersion.objects.create(
        secret=secret,
        version=number,
        value_ciphertext=encrypt_field(secret, number, "value", value),
        comment_ciphertext=encrypt_field(secret, number, "comment", comment) if comment else None,
        change=change,
        created_by=principal.user if principal and principal.kind == "user" else None,
        actor_label=principal.label if principal else "system",
    )


def version_write(
    *, secret: Secret, value: bytes, comment: bytes | None, change: str, principal: Principal | None
) -> SecretVersion:
    """Append the next version. The caller holds the secret's row lock (select_for_update) so
    concurrent writers get contiguous version numbers."""
    number = secret.version + 1
    row = _version_row(secret=secret, number=number, value=value, comment=comment, change=change, principal=principal)
    secret.version = number
    secret.save(update_fields=["version", "updated_at"])
    return row


def version_first_write(*, secret: Secret, value: bytes, comment: bytes | None, principal: Principal | None) -> None:
    """Write version 1 of a secret just inserted with ``version=1`` (no UPDATE of the secret row:
    inside the creating transaction nobody else sees it without its version)."""
    _version_row(secret=secret, number=1, value=value, comment=comment, change="created", principal=principal)


def _checkpoint_every() -> int:
    return max(1, int(getattr(settings, "FOLDER_COMMIT_CHECKPOINT_EVERY", CHECKPOINT_EVERY)))


def folder_commit_record(
    *,
    folder: Folder,
    message: str,
    principal: Principal | None,
    changes: Mapping[int, int | None],
    live_change: int = 0,
) -> FolderCommit:
    """Record a change to *folder*: *changes* maps each secret id it touched to its new version
    (``None``: deleted), *live_change* is how many live secrets it added (negative: removed).

    Must run inside the writer's transaction, after its writes: advancing the folder's head row
    takes a lock held until the transaction ends, so one folder's commits get ids in the order they
    commit and a checkpoint (every ``FOLDER_COMMIT_CHECKPOINT_EVERY``-th commit, and the first of a
    folder) snapshots exactly what the commits before it left. One statement on PostgreSQL (two on
    SQLite) whatever the folder's size; a checkpoint adds the snapshot's SELECT and INSERT."""
    commit = FolderCommit(
        folder=folder,
        state=None,
        changes={str(secret_id): version for secret_id, version in changes.items()},
        message=message[:500],
        actor_label=principal.label if principal else "system",
        created_at=timezone.now(),
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                _ADVANCE_HEAD_AND_WRITE,
                [
                    folder.pk,
                    live_change,
                    folder.pk,
                    json.dumps(commit.changes),
                    commit.message,
                    commit.actor_label,
                    commit.created_at,
                    _checkpoint_every(),
                ],
            )
            commits, live_count, commit.pk = cursor.fetchone()
        else:
            cursor.execute(_ADVANCE_HEAD, [folder.pk, live_change])
            commits, live_count = cursor.fetchone()
    commit.live_count = max(live_count, 0)
    if commit.pk is not None:
        commit._state.adding = False
        commit._state.db = connection.alias
        return commit
    if (commits - 1) % _checkpoint_every() == 0:
        commit.state = {
            str(secret_id): version
            for secret_id, version in Secret.objects.filter(folder=folder, deleted_at__isnull=True).values_list(
                "id", "version"
            )
        }
        if live_count != len(commit.state):
            # The head's running sum starts from zero in a folder that had secrets before its first
            # commit of this scheme; the checkpoint counts them.
            commit.live_count = len(commit.state)
            FolderCommitHead.objects.filter(folder=folder).update(live_count=commit.live_count)
    commit.save(force_insert=True)
    return commit

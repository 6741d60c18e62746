"""Point-in-time commits of a folder: paging them, and the folder's state after one of them."""

from __future__ import annotations

from django.db.models import QuerySet

from secrets_app.guard import require
from secrets_app.models import FolderCommit
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def folder_commit_list(scope: ProjectScope, *, environment: str, path: str = "/") -> QuerySet[FolderCommit]:
    """The folder's commits, newest first, as a query to slice. Requires ``secrets.read`` at the
    folder; raises NotFound for a missing folder. Listings need ``live_count``, never the stored
    state, so checkpoints' snapshots are not loaded."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path)
    return FolderCommit.objects.filter(folder=folder).order_by("-id").defer("state", "changes")


def folder_commit_state(commit: FolderCommit) -> dict[int, int]:
    """The folder's live secrets (id → version) right after *commit*: the nearest checkpoint at or
    before it, then the changes of each later commit up to *commit*, in id order. A folder whose
    first commits predate any checkpoint starts from empty (every secret write records a commit)."""
    state: dict[int, int] = {}
    start = 0
    checkpoint = (
        FolderCommit.objects.filter(folder_id=commit.folder_id, pk__lte=commit.pk, state__isnull=False)
        .order_by("-pk")
        .values_list("pk", "state")
        .first()
    )
    if checkpoint is not None:
        start, snapshot = checkpoint
        state = {int(secret_id): int(version) for secret_id, version in (snapshot or {}).items()}
    later = (
        FolderCommit.objects.filter(folder_id=commit.folder_id, pk__gt=start, pk__lte=commit.pk)
        .order_by("pk")
        .values_list("changes", flat=True)
    )
    for changes in later:
        for secret_id, version in (changes or {}).items():
            if version is None:
                state.pop(int(secret_id), None)
            else:
                state[int(secret_id)] = int(version)
    return state

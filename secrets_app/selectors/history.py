"""Point-in-time history of a folder: its commits, newest first."""

from __future__ import annotations

from secrets_app.guard import require
from secrets_app.models import FolderCommit
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def folder_commit_list(scope: ProjectScope, *, environment: str, path: str, limit: int = 100) -> list[FolderCommit]:
    """The folder's most recent commits (message, actor, time, secret id → version). Requires
    ``secrets.read`` at the folder; raises NotFound for a missing folder."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path)
    return list(FolderCommit.objects.filter(folder=folder).order_by("-id")[:limit])

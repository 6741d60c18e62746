"""Point-in-time commits of a folder, for paging (``history.folder_commit_list`` gives the latest few)."""

from __future__ import annotations

from django.db.models import QuerySet

from secrets_app.guard import require
from secrets_app.models import FolderCommit
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def folder_commit_list(scope: ProjectScope, *, environment: str, path: str = "/") -> QuerySet[FolderCommit]:
    """The folder's commits, newest first, as a query to slice. Requires ``secrets.read`` at the
    folder; raises NotFound for a missing folder."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path)
    return FolderCommit.objects.filter(folder=folder).order_by("-id")

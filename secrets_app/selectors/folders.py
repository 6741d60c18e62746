"""Subfolders as the caller may see them."""

from __future__ import annotations

from secrets_app.models import Folder
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def _visible(scope: ProjectScope, environment: str, path: str) -> bool:
    access = scope.access
    return access.visible_path_prefix("folders.read", environment, path) or access.visible_path_prefix(
        "secrets.read", environment, path
    )


def folder_children_list(scope: ProjectScope, *, environment: str, path: str = "/") -> list[Folder]:
    """Direct subfolders of *path* on the way to something the caller may read: a caller granted only
    ``/app/**`` sees ``/`` → ``app`` and nothing beside it. Raises NotFound for a missing folder and
    PermissionDenied (audited) when *path* itself leads nowhere readable."""
    env, folder = folder_get(scope, environment, path)
    if not _visible(scope, env.slug, folder.path):
        require(scope, "folders.read", environment=env.slug, path=folder.path)  # refuses and audits
    children = Folder.objects.filter(parent=folder).select_related("environment").order_by("name")
    return [child for child in children if _visible(scope, env.slug, child.path)]

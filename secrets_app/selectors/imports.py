"""Secret imports of one folder path, across the environments the caller may see."""

from __future__ import annotations

from secrets_app.models import SecretImport
from secrets_app.paths import canonical_path
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def import_list_at(scope: ProjectScope, path: str, environments: list[str]) -> list[SecretImport]:
    """Imports of the folders at *path* in *environments* that the caller may list (``imports.read``)."""
    path = canonical_path(path)
    imports = (
        SecretImport.objects.filter(
            project=scope.project, folder__path=path, folder__environment__slug__in=environments
        )
        .select_related("folder__environment", "source_environment")
        .order_by("folder__environment__position", "position", "id")
    )
    return [
        item
        for item in imports
        if scope.access.can("imports.read", environment=item.folder.environment.slug, path=item.folder.path)
    ]


def import_list(scope: ProjectScope, *, environment: str, path: str = "/") -> list[SecretImport]:
    """One folder's imports in resolution order (earlier ones win). Raises NotFound for a missing
    folder and PermissionDenied (audited) without ``imports.read`` there."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "imports.read", environment=env.slug, path=folder.path)
    return list(
        SecretImport.objects.filter(folder=folder)
        .select_related("folder__environment", "source_environment")
        .order_by("position", "id")
    )

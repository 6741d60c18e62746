"""Environments and folders of a project, resolved from slugs and paths."""

from __future__ import annotations

from secrets_app.errors import NotFound
from secrets_app.models import Environment, Folder
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope


def environment_get(scope: ProjectScope, slug: str) -> Environment:
    """The environment, or NotFound — also for one the caller was granted nothing in (the refusal
    is audited, the answer is the same as for a missing environment)."""
    environment = Environment.objects.filter(project=scope.project, slug=slug).first()
    if environment is not None and not scope.access.sees_environment(slug):
        scope.audit_denial("environment.enter", environment=slug, resource_type="environment", resource_id=slug)
        environment = None
    if environment is None:
        raise NotFound(f"Environment '{slug}' not found", fields={"environment": ["not found"]})
    return environment


def folder_get(scope: ProjectScope, environment_slug: str, path: str) -> tuple[Environment, Folder]:
    """The folder at *path*; raises NotFound naming the path when it does not exist."""
    environment = environment_get(scope, environment_slug)
    canonical = canonical_path(path)
    folder = Folder.objects.filter(environment=environment, path=canonical).first()
    if folder is None:
        raise NotFound(
            f"Folder '{canonical}' not found in environment '{environment.slug}'", fields={"path": ["not found"]}
        )
    folder.environment = environment  # already loaded: spare readers a query per folder
    return environment, folder


def folder_subtree(folder: Folder) -> list[Folder]:
    """The folder and all folders below it, in path order."""
    below = Folder.objects.filter(environment_id=folder.environment_id)
    if folder.path != "/":
        below = below.filter(path__startswith=folder.path + "/")
    return [folder, *below.exclude(pk=folder.pk).select_related("environment").order_by("path")]

"""Environments and folders of a project, resolved from slugs and paths."""

from __future__ import annotations

import copy

from access_cache.store import access_cache
from secrets_app.errors import NotFound
from secrets_app.models import Environment, Folder
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope


def _environment_row(scope: ProjectScope, slug: str) -> Environment | None:
    return Environment.objects.filter(project=scope.project, slug=slug).first()


def _place(scope: ProjectScope, slug: str, path: str) -> tuple[Environment | None, Folder | None]:
    """The environment with *slug* and its folder at canonical *path* (None for a missing one),
    from the access-epoch cache when the request has an epoch (folders and environments are
    watched rows: a new, moved or deleted one ends the epoch)."""

    def load() -> tuple[tuple[Environment | None, Folder | None], None]:
        environment = _environment_row(scope, slug)
        if environment is None:
            return (None, None), None
        folder = Folder.objects.filter(environment=environment, path=path).first()
        if folder is not None:
            folder.environment = environment  # already loaded: spare readers a query per folder
        return (environment, folder), None

    epoch = scope.principal.access_epoch
    if epoch is None:
        return load()[0]
    cached_environment, cached_folder = access_cache.get_or_compute(
        epoch, ("place", scope.project.pk, slug, path), load
    )
    if cached_environment is None:
        return None, None
    # Copies: callers may set attributes on them; the cached ones stay as read.
    environment = copy.copy(cached_environment)
    if cached_folder is None:
        return environment, None
    folder = copy.copy(cached_folder)
    folder.environment = environment
    return environment, folder


def _visible(scope: ProjectScope, environment: Environment | None, slug: str) -> Environment:
    if environment is not None and not scope.access.sees_environment(slug):
        scope.audit_denial("environment.enter", environment=slug, resource_type="environment", resource_id=slug)
        environment = None
    if environment is None:
        raise NotFound(f"Environment '{slug}' not found", fields={"environment": ["not found"]})
    return environment


def environment_get(scope: ProjectScope, slug: str) -> Environment:
    """The environment, or NotFound — also for one the caller was granted nothing in (the refusal
    is audited, the answer is the same as for a missing environment)."""
    return _visible(scope, _environment_row(scope, slug), slug)


def folder_get(scope: ProjectScope, environment_slug: str, path: str) -> tuple[Environment, Folder]:
    """The folder at *path*; raises NotFound naming the path when it does not exist."""
    canonical = canonical_path(path)
    found_environment, folder = _place(scope, environment_slug, canonical)
    environment = _visible(scope, found_environment, environment_slug)
    if folder is None:
        raise NotFound(
            f"Folder '{canonical}' not found in environment '{environment.slug}'", fields={"path": ["not found"]}
        )
    return environment, folder


def folder_subtree(folder: Folder) -> list[Folder]:
    """The folder and all folders below it, in path order."""
    below = Folder.objects.filter(environment_id=folder.environment_id)
    if folder.path != "/":
        below = below.filter(path__startswith=folder.path + "/")
    return [folder, *below.exclude(pk=folder.pk).select_related("environment").order_by("path")]

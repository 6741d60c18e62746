"""What a delete would take with it: the contents of an environment or a folder subtree, for the
confirmations the web UI shows before ``environment_delete`` and ``folder_delete``. Reads only;
never a value."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from secrets_app.models import Environment, Folder, Secret, SecretType
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get, folder_subtree


@dataclass(frozen=True)
class EnvironmentContents:
    environment: Environment
    secret_count: int  # live secrets (shared and personal)
    folder_count: int  # folders other than the root


def environment_contents_list(scope: ProjectScope) -> list[EnvironmentContents]:
    """Every environment of the project, in order, with what deleting it removes. Counts only, so
    it tells nothing a person allowed ``environments.manage`` (who may delete it all) must not
    know; views show it to those people only."""
    environments = (
        Environment.objects.filter(project=scope.project)
        .annotate(
            live_secrets=Count("secrets", filter=Q(secrets__deleted_at__isnull=True), distinct=True),
            subfolders=Count("folders", filter=~Q(folders__path="/"), distinct=True),
        )
        .order_by("position", "pk")
    )
    return [
        EnvironmentContents(environment=env, secret_count=env.live_secrets, folder_count=env.subfolders)
        for env in environments
    ]


@dataclass
class FolderContents:
    """A folder subtree in one environment: subfolder paths (below the folder) and the keys of
    the secrets the caller may list; ``hidden`` counts the others (personal ones of other people,
    or keys the caller's role does not list)."""

    environment: str
    path: str
    subfolders: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    hidden: int = 0

    @property
    def secret_total(self) -> int:
        return len(self.secrets) + self.hidden


def folder_contents(scope: ProjectScope, environment: str, path: str) -> FolderContents:
    """What ``folder_delete`` at *path* in *environment* would remove. NotFound like ``folder_get``."""
    env, folder = folder_get(scope, environment, path)
    subtree = folder_subtree(folder)
    contents = FolderContents(environment=env.slug, path=folder.path)
    contents.subfolders = [item.path for item in subtree[1:]]
    paths = {item.pk: item.path for item in subtree}
    secrets = (
        Secret.objects.filter(folder__in=subtree, deleted_at__isnull=True)
        .prefetch_related("tags")
        .order_by("folder__path", "key")
    )
    for secret in secrets:
        place = paths[secret.folder_id]
        tags = [tag.slug for tag in secret.tags.all()]
        mine = secret.type == SecretType.SHARED or secret.owner_id == scope.principal.user_id
        if mine and scope.access.can("secrets.read", environment=env.slug, path=place, tags=tags):
            relative = place[len(folder.path) :].lstrip("/")
            contents.secrets.append(f"{relative}/{secret.key}" if relative else secret.key)
        else:
            contents.hidden += 1
    return contents


def folder_exists_in(scope: ProjectScope, environments: list[str], path: str) -> list[str]:
    """Those of *environments* (slugs) that have a folder at canonical *path*."""
    found = set(
        Folder.objects.filter(project=scope.project, path=path, environment__slug__in=environments).values_list(
            "environment__slug", flat=True
        )
    )
    return [slug for slug in environments if slug in found]

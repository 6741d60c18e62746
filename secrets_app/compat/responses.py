"""Infisical's object shapes (``reference/infisical-api.md`` §3, §5) built from our views and models.

Ids: Infisical's are UUIDs. Projects have one (``public_id``); other rows are numbered, so their
compat id is a UUID that encodes the kind and the row number (reversible, stable, no new column).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from access_cache.store import access_cache
from secrets_app.models import Environment, Folder, Project, SecretImport, Tag

HIDDEN_VALUE = "<hidden-by-infisical>"
_KINDS = {"secret": 1, "folder": 2, "tag": 3, "env": 4, "import": 5, "org": 6}


def compat_id(kind: str, pk: int) -> str:
    return str(uuid.UUID(int=(_KINDS[kind] << 96) | int(pk)))


def parse_compat_id(kind: str, raw: object) -> int | None:
    """The row number behind a compat id (a plain integer is accepted too), or None."""
    text = str(raw or "").strip()
    if text.isdigit():
        return int(text)
    try:
        number = uuid.UUID(text).int
    except ValueError:
        return None
    if number >> 96 != _KINDS[kind]:
        return None
    return number & ((1 << 96) - 1)


def iso(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tag_shape(tag: Tag) -> dict[str, Any]:
    return {
        "id": compat_id("tag", tag.pk),
        "_id": compat_id("tag", tag.pk),
        "slug": tag.slug,
        "name": tag.name or tag.slug,
        "color": tag.color or None,
        "projectId": str(tag.project.public_id) if tag.project_id else None,
        "createdAt": iso(tag.created_at),
        "updatedAt": iso(tag.created_at),
    }


def secret_shape(
    *,
    project: Project,
    secret_id: int,
    key: str,
    value: str | None,
    comment: str | None,
    version: int,
    secret_type: str,
    environment: str,
    path: str,
    tags: list[Tag],
    created_at: datetime.datetime | None,
    updated_at: datetime.datetime | None,
) -> dict[str, Any]:
    hidden = value is None
    return {
        "id": compat_id("secret", secret_id),
        "_id": compat_id("secret", secret_id),
        "workspace": str(project.public_id),
        "environment": environment,
        "version": int(version),
        "type": secret_type,
        "secretKey": key,
        "secretValue": HIDDEN_VALUE if hidden else value,
        "secretValueHidden": hidden,
        "secretComment": comment or "",
        "secretPath": path,
        "skipMultilineEncoding": False,
        "secretReminderNote": None,
        "secretReminderRepeatDays": None,
        "metadata": None,
        "secretMetadata": [],
        "tags": [
            {"id": compat_id("tag", tag.pk), "slug": tag.slug, "name": tag.name or tag.slug, "color": tag.color or None}
            for tag in tags
        ],
        "createdAt": iso(created_at),
        "updatedAt": iso(updated_at or created_at),
    }


class TagIndex:
    """The project's tags by slug, loaded once per request — or once per access epoch with
    ``TagIndex.of(scope)`` (tags are watched rows)."""

    def __init__(self, project: Project, by_slug: dict[str, Tag] | None = None) -> None:
        self.by_slug = (
            by_slug if by_slug is not None else {tag.slug: tag for tag in Tag.objects.filter(project=project)}
        )

    @classmethod
    def of(cls, scope: Any) -> TagIndex:
        def load() -> tuple[dict[str, Tag], None]:
            return {tag.slug: tag for tag in Tag.objects.filter(project=scope.project)}, None

        by_slug = access_cache.get_or_compute(scope.principal.access_epoch, ("tags", scope.project.pk), load)
        return cls(scope.project, by_slug)

    def tags(self, slugs: list[str]) -> list[Tag]:
        return [self.by_slug[slug] for slug in slugs if slug in self.by_slug]

    def slugs_for_ids(self, ids: list[str]) -> list[str]:
        """Tag ids (compat ids, or slugs, which some callers send) to slugs; unknown ones are kept
        as given so the service refuses them by name."""
        by_pk = {tag.pk: tag.slug for tag in self.by_slug.values()}
        slugs = []
        for raw in ids:
            pk = parse_compat_id("tag", raw)
            slugs.append(by_pk.get(pk, raw) if pk is not None else raw)
        return slugs


def view_shape(project: Project, view: Any, tags: TagIndex) -> dict[str, Any]:
    return secret_shape(
        project=project,
        secret_id=view.id,
        key=view.key,
        value=view.value,
        comment=view.comment,
        version=view.version,
        secret_type=view.type,
        environment=view.environment,
        path=view.path,
        tags=tags.tags(view.tags),
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def folder_shape(folder: Folder, *, with_environment: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": compat_id("folder", folder.pk),
        "_id": compat_id("folder", folder.pk),
        "name": folder.name if folder.path != "/" else "root",
        "version": 1,
        "createdAt": iso(folder.created_at),
        "updatedAt": iso(folder.created_at),
        "envId": compat_id("env", folder.environment_id),
        "parentId": compat_id("folder", folder.parent_id) if folder.parent_id else None,
        "isReserved": False,
        "description": None,
        "lastSecretModified": None,
        "path": folder.path,
    }
    if with_environment:
        env = folder.environment
        shape["environment"] = {"envId": compat_id("env", env.pk), "envName": env.name, "envSlug": env.slug}
        shape["projectId"] = str(folder.project.public_id)
    return shape


def environment_shape(env: Environment) -> dict[str, Any]:
    return {"id": compat_id("env", env.pk), "_id": compat_id("env", env.pk), "name": env.name, "slug": env.slug}


def project_shape(project: Project, environments: list[Environment]) -> dict[str, Any]:
    return {
        "id": str(project.public_id),
        "_id": str(project.public_id),
        "name": project.name,
        "slug": project.slug,
        "description": project.description or None,
        "orgId": compat_id("org", project.organization_id),
        "organization": compat_id("org", project.organization_id),
        "environments": [environment_shape(env) for env in environments],
        "version": 3,
        "autoCapitalization": False,
        "createdAt": iso(project.created_at),
        "updatedAt": iso(project.created_at),
    }


def import_shape(item: SecretImport) -> dict[str, Any]:
    env = item.source_environment
    return {
        "id": compat_id("import", item.pk),
        "_id": compat_id("import", item.pk),
        "importPath": item.source_path,
        "importEnv": {"id": compat_id("env", env.pk), "name": env.name, "slug": env.slug},
        "position": item.position + 1,
        "folderId": compat_id("folder", item.folder_id),
        "isReplication": False,
        "isReplicationSuccess": None,
        "isReserved": False,
        "createdAt": iso(item.created_at),
        "updatedAt": iso(item.created_at),
    }

"""Reads of rotations, filtered by what the caller may see (``secrets.read`` at the folder)."""

from __future__ import annotations

import uuid

from rotation.models import Rotation, RotationAttempt
from secrets_app.errors import NotFound
from secrets_app.paths import canonical_path
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope
from secrets_app.selectors.tree import folder_get

READ = "secrets.read"


def rotation_list(scope: ProjectScope, *, environment: str | None = None, path: str | None = None) -> list[Rotation]:
    """Rotations of the project the caller may see; one folder when *environment* (and *path*) are given."""
    query = Rotation.objects.filter(project=scope.project).select_related("project", "environment", "folder")
    if environment:
        _, folder = folder_get(scope, environment, canonical_path(path or "/"))
        query = query.filter(folder=folder)
    return [
        rotation
        for rotation in query.order_by("name", "id")
        if scope.access.can(READ, environment=rotation.environment.slug, path=rotation.folder.path, tags=())
    ]


def rotation_by_id(scope: ProjectScope, ref: str) -> Rotation:
    """One rotation of the project by public id; NotFound when missing or not visible."""
    try:
        rotation = (
            Rotation.objects.filter(project=scope.project, public_id=uuid.UUID(str(ref)))
            .select_related("project", "environment", "folder")
            .first()
        )
    except ValueError:
        rotation = None
    if rotation is None or not scope.access.can(
        READ, environment=rotation.environment.slug, path=rotation.folder.path, tags=()
    ):
        raise NotFound("Rotation not found")
    return rotation


def rotation_by_name(scope: ProjectScope, *, environment: str, path: str, name: str) -> Rotation:
    """The rotation called *name* in one folder; NotFound when missing or not visible (a missing
    environment or folder is the folder selector's NotFound)."""
    for rotation in rotation_list(scope, environment=environment, path=path):
        if rotation.name == name:
            return rotation
    raise NotFound("Rotation not found")


def rotation_find(principal: Principal, ref: str) -> tuple[ProjectScope, Rotation]:
    """A rotation by public id alone, for routes that name no project (Infisical's): the caller's
    scope in the rotation's project, and the rotation as ``rotation_by_id`` sees it. A missing
    rotation, a project the caller cannot see and a folder it may not read all give the same
    NotFound, so an id from another project or organization reveals nothing."""
    try:
        key = uuid.UUID(str(ref))
    except ValueError:
        raise NotFound("Rotation not found") from None
    project_ref = Rotation.objects.filter(public_id=key).values_list("project__public_id", flat=True).first()
    if project_ref is None:
        raise NotFound("Rotation not found")
    try:
        scope = project_scope(principal, str(project_ref))
    except NotFound:
        raise NotFound("Rotation not found") from None
    return scope, rotation_by_id(scope, str(key))


def rotation_attempts(rotation: Rotation, *, limit: int = 100) -> list[RotationAttempt]:
    return list(rotation.attempts.order_by("-started_at", "-id")[:limit])

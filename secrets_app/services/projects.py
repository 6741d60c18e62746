"""Organizations, projects and environments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction

from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.keyring import keyring
from secrets_app.models import (
    Environment,
    Folder,
    Organization,
    OrganizationMembership,
    OrgRole,
    Project,
    ProjectMembership,
)
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, is_org_member
from secrets_app.validation import validate_slug

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")
ENVIRONMENT_NAMES = {"dev": "Development", "staging": "Staging", "prod": "Production"}


def organization_get_or_create(*, slug: str, name: str, admin_user: Any | None = None) -> Organization:
    """Idempotent: returns the existing organization; makes *admin_user* an admin of it."""
    organization, created = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
    if admin_user is not None:
        OrganizationMembership.objects.update_or_create(
            organization=organization, user=admin_user, defaults={"role": OrgRole.ADMIN}
        )
    if created:
        audit_record(
            action="organization.created",
            actor=AuditActor(type="system", id="system", label="system"),
            organization_id=organization.pk,
            resource_type="organization",
            resource_id=organization.slug,
        )
    return organization


def _root_folder(project: Project, environment: Environment) -> Folder:
    return Folder.objects.create(project=project, environment=environment, parent=None, name="", path="/")


def project_create(
    *,
    principal: Principal,
    organization: Organization,
    slug: str,
    name: str,
    environments: Sequence[str] = DEFAULT_ENVIRONMENTS,
    description: str = "",
) -> Project:
    """Create a project with its environments, their root folders and a data key; the creator
    becomes its admin. Raises Conflict when the slug is taken in the organization."""
    slug = validate_slug(slug, field="slug")
    if not name or len(name) > 120:
        raise ValidationFailed("name", "is required and must be at most 120 characters")
    env_slugs = [validate_slug(env, field="environments") for env in environments]
    if not env_slugs:
        raise ValidationFailed("environments", "must name at least one environment")
    repeated = next((env for position, env in enumerate(env_slugs) if env in env_slugs[:position]), None)
    if repeated is not None:
        raise ValidationFailed("environments", f'names "{repeated}" twice; each environment once')
    if not is_org_member(principal, organization.pk):
        raise NotFound("Organization not found")
    try:
        with transaction.atomic():
            project = Project.objects.create(organization=organization, slug=slug, name=name, description=description)
            for position, env_slug in enumerate(env_slugs):
                environment = Environment.objects.create(
                    project=project, slug=env_slug, name=ENVIRONMENT_NAMES.get(env_slug, env_slug), position=position
                )
                _root_folder(project, environment)
            keyring.create_data_key(project)
            if principal.user_id is not None:
                ProjectMembership.objects.create(project=project, user_id=principal.user_id, builtin_role="admin")
            audit_record(
                action="project.created",
                actor=principal.audit_actor("admin"),
                organization_id=organization.pk,
                project_id=project.pk,
                resource_type="project",
                resource_id=project.slug,
                metadata={"environments": env_slugs},
            )
    except IntegrityError:
        raise Conflict(f"A project with slug '{slug}' already exists", fields={"slug": ["already exists"]}) from None
    return project


def project_update(*, scope: ProjectScope, name: str | None = None, description: str | None = None) -> Project:
    require(scope, "project.edit")
    project = scope.project
    if name is not None:
        if not name or len(name) > 120:
            raise ValidationFailed("name", "is required and must be at most 120 characters")
        project.name = name
    if description is not None:
        project.description = description[:2000]
    with transaction.atomic():
        project.save()
        _audit(scope, "project.updated", "project", project.slug, {"name": project.name})
    return project


def project_delete(*, scope: ProjectScope) -> None:
    require(scope, "project.delete")
    with transaction.atomic():
        _audit(scope, "project.deleted", "project", scope.project.slug, {})
        # Memberships go first: one holding a custom role PROTECTs that role, and the cascade from
        # the project would otherwise refuse to delete it (ProtectedError, a 500).
        ProjectMembership.objects.filter(project=scope.project).delete()
        scope.project.delete()


def _audit(
    scope: ProjectScope,
    action: str,
    resource_type: str,
    resource_id: str,
    metadata: dict[str, Any],
    environment: str = "",
) -> None:
    scope.audit(
        action, environment=environment, resource_type=resource_type, resource_id=resource_id, metadata=metadata
    )


# A reveal schedules the owning rotation within at most a week: longer defeats the point.
REVEAL_ROTATION_MAX_HOURS = 168


def environment_create(*, scope: ProjectScope, slug: str, name: str = "", position: int | None = None) -> Environment:
    require(scope, "environments.manage")
    slug = validate_slug(slug, field="slug")
    try:
        with transaction.atomic():
            last = Environment.objects.filter(project=scope.project).order_by("-position").first()
            environment = Environment.objects.create(
                project=scope.project,
                slug=slug,
                name=(name or slug)[:64],
                position=position if position is not None else (last.position + 1 if last else 0),
            )
            _root_folder(scope.project, environment)
            _audit(scope, "environment.created", "environment", slug, {"name": environment.name}, slug)
    except IntegrityError:
        raise Conflict(f"Environment '{slug}' already exists", fields={"slug": ["already exists"]}) from None
    return environment


def environment_update(
    *,
    scope: ProjectScope,
    slug: str,
    new_slug: str | None = None,
    name: str | None = None,
    reveal_marks_due: bool | None = None,
    reveal_rotation_hours: int | None = None,
) -> Environment:
    """Rename, re-slug, or set what a person revealing a value here sets in motion: the value is
    marked due for rotation, or (a secret a rotation owns) that rotation runs within
    ``reveal_rotation_hours`` (0..REVEAL_ROTATION_MAX_HOURS; 0: at once). ValidationFailed names
    the field otherwise."""
    require(scope, "environments.manage")
    if reveal_rotation_hours is not None and not 0 <= reveal_rotation_hours <= REVEAL_ROTATION_MAX_HOURS:
        raise ValidationFailed("revealRotationHours", f"must be from 0 to {REVEAL_ROTATION_MAX_HOURS} hours")
    environment = Environment.objects.filter(project=scope.project, slug=slug).first()
    if environment is None:
        raise NotFound(f"Environment '{slug}' not found")
    if new_slug is not None:
        environment.slug = validate_slug(new_slug, field="slug")
    if name is not None:
        environment.name = name[:64] or environment.slug
    metadata: dict[str, object] = {"previous_slug": slug}
    if reveal_marks_due is not None:
        environment.reveal_marks_due = reveal_marks_due
        metadata["reveal_marks_due"] = reveal_marks_due
    if reveal_rotation_hours is not None:
        environment.reveal_rotation_hours = reveal_rotation_hours
        metadata["reveal_rotation_hours"] = reveal_rotation_hours
    try:
        with transaction.atomic():
            environment.save()
            _audit(scope, "environment.updated", "environment", environment.slug, metadata, environment.slug)
    except IntegrityError:
        raise Conflict(f"Environment '{new_slug}' already exists", fields={"slug": ["already exists"]}) from None
    return environment


def environment_reorder(*, scope: ProjectScope, slugs: Sequence[str]) -> list[Environment]:
    """Set the order of environments; *slugs* must name every environment exactly once."""
    require(scope, "environments.manage")
    environments = {env.slug: env for env in Environment.objects.filter(project=scope.project)}
    if sorted(slugs) != sorted(environments):
        raise ValidationFailed("order", "must list every environment of the project exactly once")
    with transaction.atomic():
        for position, slug in enumerate(slugs):
            environments[slug].position = position
            environments[slug].save(update_fields=["position"])
        _audit(scope, "environment.reordered", "environment", "", {"order": list(slugs)})
    return [environments[slug] for slug in slugs]


def environment_delete(*, scope: ProjectScope, slug: str) -> None:
    require(scope, "environments.manage")
    environment = Environment.objects.filter(project=scope.project, slug=slug).first()
    if environment is None:
        raise NotFound(f"Environment '{slug}' not found")
    with transaction.atomic():
        _audit(scope, "environment.deleted", "environment", slug, {}, slug)
        environment.delete()

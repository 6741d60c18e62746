"""Folders, secret imports and tags."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from secrets_app.errors import Conflict, NotFound, ValidationFailed
from secrets_app.events import announce_secret_change
from secrets_app.models import Folder, FolderCommit, Secret, SecretImport, Tag
from secrets_app.paths import SEGMENT_RE, canonical_path, join_path
from secrets_app.policy import ACTIONS, SCOPED_SUBJECTS
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import environment_get, folder_get, folder_subtree
from secrets_app.validation import validate_slug
from secrets_app.write_gate import ChangeOp, ProposedChange, WriteIntent, write_gate_check


def _audit(
    scope: ProjectScope,
    action: str,
    environment: str,
    path: str,
    resource_type: str,
    resource_id: str,
    **metadata: object,
) -> None:
    scope.audit(
        action,
        environment=environment,
        path=path,
        resource_type=resource_type,
        resource_id=resource_id,
        metadata=metadata,
    )


def folder_create(*, scope: ProjectScope, environment: str, path: str, name: str) -> Folder:
    """Create folder *name* under *path*. Raises Conflict when it exists."""
    if not isinstance(name, str) or not SEGMENT_RE.match(name):
        raise ValidationFailed("name", "must be 1-64 letters, digits, '-' or '_'")
    env, parent = folder_get(scope, environment, path)
    new_path = join_path(parent.path, name)
    require(scope, "folders.create", environment=env.slug, path=new_path)
    try:
        with transaction.atomic():
            folder = Folder.objects.create(
                project=scope.project, environment=env, parent=parent, name=name, path=new_path
            )
            _audit(scope, "folder.created", env.slug, new_path, "folder", new_path)
    except IntegrityError:
        raise Conflict(f"Folder '{new_path}' already exists", fields={"name": ["already exists"]}) from None
    return folder


def folder_ensure(*, scope: ProjectScope, environment: str, path: str) -> Folder:
    """Create every missing folder along *path* (idempotent). Used by bulk imports and the CLI."""
    env = environment_get(scope, environment)
    canonical = canonical_path(path)
    existing = Folder.objects.filter(environment=env, path=canonical).first()
    if existing is not None:
        return existing
    current = "/"
    folder = Folder.objects.get(environment=env, path="/")
    for segment in [part for part in canonical.split("/") if part]:
        next_path = join_path(current, segment)
        found = Folder.objects.filter(environment=env, path=next_path).first()
        if found is None:
            try:
                found = folder_create(scope=scope, environment=env.slug, path=current, name=segment)
            except Conflict:
                # Another writer created it between our look-up and our insert: theirs is ours.
                found = Folder.objects.filter(environment=env, path=next_path).first()
                if found is None:
                    raise
        folder = found
        current = next_path
    return folder


def folder_delete(*, scope: ProjectScope, environment: str, path: str) -> None:
    """Delete a folder and everything below it (secrets, subfolders, imports). The root cannot go."""
    env, folder = folder_get(scope, environment, path)
    if folder.path == "/":
        raise ValidationFailed("path", "the root folder cannot be deleted")
    subtree = folder_subtree(folder)
    for item in subtree:
        require(scope, "folders.delete", environment=env.slug, path=item.path)
        # Each secret with its own tags, so a tag-limited deny on secrets.delete holds here too.
        for secret in Secret.objects.filter(folder=item, deleted_at__isnull=True).prefetch_related("tags"):
            tags = [tag.slug for tag in secret.tags.all()]
            require(scope, "secrets.delete", environment=env.slug, path=item.path, tags=tags, resource=secret.key)
    newest = FolderCommit.objects.filter(folder=folder).order_by("-pk").values_list("pk", flat=True).first()
    write_gate_check(
        WriteIntent(
            scope=scope,
            environment=env,
            folder=folder,
            operation="folder.deleted",
            changes=(
                ProposedChange(
                    op=ChangeOp.FOLDER_DELETE,
                    base_commit_id=newest,
                    # A policy on any folder below protects this delete too.
                    metadata={"subtree_paths": sorted(item.path for item in subtree)},
                ),
            ),
        )
    )
    with transaction.atomic():
        count = Secret.objects.filter(folder__in=subtree, deleted_at__isnull=True).update(deleted_at=timezone.now())
        _audit(
            scope,
            "folder.deleted",
            env.slug,
            folder.path,
            "folder",
            folder.path,
            secrets_deleted=count,
            folders=len(subtree),
        )
        folder_id = folder.pk  # delete() sets folder.pk to None
        folder.delete()
        announce_secret_change(project_id=scope.project.pk, environment_id=env.pk, folder_id=folder_id)


def folder_rename(*, scope: ProjectScope, environment: str, path: str, name: str) -> Folder:
    if not isinstance(name, str) or not SEGMENT_RE.match(name):
        raise ValidationFailed("name", "must be 1-64 letters, digits, '-' or '_'")
    env, folder = folder_get(scope, environment, path)
    if folder.path == "/":
        raise ValidationFailed("path", "the root folder cannot be renamed")
    old_path = folder.path
    new_path = join_path(folder.parent.path if folder.parent else "/", name)
    require(scope, "folders.edit", environment=env.slug, path=old_path)
    require(scope, "folders.edit", environment=env.slug, path=new_path)
    subtree = folder_subtree(folder)
    _refuse_rename_that_widens_access(scope, env.slug, subtree, old_path, new_path)
    try:
        with transaction.atomic():
            for item in subtree:
                item.path = new_path + item.path[len(old_path) :]
                if item.pk == folder.pk:
                    item.name = name
                item.save(update_fields=["path", "name"])
            # Imports of the renamed folders follow them (else they would silently stop importing).
            moved_imports = SecretImport.objects.filter(source_environment=env).filter(
                Q(source_path=old_path) | Q(source_path__startswith=old_path + "/")
            )
            for secret_import in moved_imports:
                secret_import.source_path = new_path + secret_import.source_path[len(old_path) :]
                secret_import.save(update_fields=["source_path"])
            _audit(scope, "folder.renamed", env.slug, new_path, "folder", new_path, previous_path=old_path)
    except IntegrityError:
        raise Conflict(f"Folder '{new_path}' already exists", fields={"name": ["already exists"]}) from None
    folder.refresh_from_db()
    return folder


def _refuse_rename_that_widens_access(
    scope: ProjectScope, environment: str, subtree: list[Folder], old_path: str, new_path: str
) -> None:
    """Path rules follow paths, so moving folders could carry secrets out from under a deny (rename
    /app/db, denied, to /app/dbx, not denied). Whatever the caller could do at a new path it must
    already be allowed at the old one, for each folder and each tag set of the secrets below."""
    tag_sets: set[frozenset[str] | None] = {None, frozenset()}
    for secret in Secret.objects.filter(folder__in=subtree, deleted_at__isnull=True).prefetch_related("tags"):
        tag_sets.add(frozenset(tag.slug for tag in secret.tags.all()))
    scoped_actions = [action for action in ACTIONS if action.startswith(SCOPED_SUBJECTS)]
    for item in subtree:
        after = new_path + item.path[len(old_path) :]
        for action in scoped_actions:
            for tags in tag_sets:
                if scope.access.can(action, environment=environment, path=after, tags=tags):
                    require(scope, action, environment=environment, path=item.path, tags=tags, resource=item.path)


def import_create(
    *, scope: ProjectScope, environment: str, path: str, source_environment: str, source_path: str
) -> SecretImport:
    env, folder = folder_get(scope, environment, path)
    source_env, source_folder = folder_get(scope, source_environment, source_path)
    if source_folder.pk == folder.pk:
        raise ValidationFailed("sourcePath", "a folder cannot import itself")
    require(scope, "imports.create", environment=env.slug, path=folder.path)
    require(scope, "secrets.read", environment=source_env.slug, path=source_folder.path)
    try:
        with transaction.atomic():
            last = SecretImport.objects.filter(folder=folder).order_by("-position").first()
            secret_import = SecretImport.objects.create(
                project=scope.project,
                folder=folder,
                source_environment=source_env,
                source_path=source_folder.path,
                position=last.position + 1 if last else 0,
            )
            _audit(
                scope,
                "import.created",
                env.slug,
                folder.path,
                "import",
                str(secret_import.pk),
                source=f"{source_env.slug}:{source_folder.path}",
            )
            announce_secret_change(project_id=scope.project.pk, environment_id=env.pk, folder_id=folder.pk)
    except IntegrityError:
        raise Conflict("This folder already imports that source", fields={"sourcePath": ["already imported"]}) from None
    return secret_import


def import_delete(*, scope: ProjectScope, import_id: int) -> None:
    secret_import = (
        SecretImport.objects.filter(project=scope.project, pk=import_id).select_related("folder__environment").first()
    )
    if secret_import is None:
        raise NotFound("Import not found")
    env_slug = secret_import.folder.environment.slug
    require(scope, "imports.delete", environment=env_slug, path=secret_import.folder.path)
    with transaction.atomic():
        _audit(scope, "import.deleted", env_slug, secret_import.folder.path, "import", str(import_id))
        secret_import.delete()
        announce_secret_change(
            project_id=scope.project.pk,
            environment_id=secret_import.folder.environment_id,
            folder_id=secret_import.folder_id,
        )


def import_reorder(*, scope: ProjectScope, environment: str, path: str, import_ids: list[int]) -> list[SecretImport]:
    env, folder = folder_get(scope, environment, path)
    require(scope, "imports.create", environment=env.slug, path=folder.path)
    imports = {item.pk: item for item in SecretImport.objects.filter(folder=folder)}
    if sorted(import_ids) != sorted(imports):
        raise ValidationFailed("order", "must list every import of the folder exactly once")
    with transaction.atomic():
        for position, import_id in enumerate(import_ids):
            imports[import_id].position = position
            imports[import_id].save(update_fields=["position"])
        _audit(scope, "import.reordered", env.slug, folder.path, "import", "", order=import_ids)
    return [imports[import_id] for import_id in import_ids]


def tag_create(*, scope: ProjectScope, slug: str, name: str = "", color: str = "") -> Tag:
    require(scope, "tags.manage")
    slug = validate_slug(slug, field="slug")
    try:
        with transaction.atomic():
            tag = Tag.objects.create(project=scope.project, slug=slug, name=(name or slug)[:64], color=color[:16])
            _audit(scope, "tag.created", "", "", "tag", slug)
    except IntegrityError:
        raise Conflict(f"Tag '{slug}' already exists", fields={"slug": ["already exists"]}) from None
    return tag


def tag_delete(*, scope: ProjectScope, slug: str) -> None:
    require(scope, "tags.manage")
    tag = Tag.objects.filter(project=scope.project, slug=slug).first()
    if tag is None:
        raise NotFound(f"Tag '{slug}' not found")
    with transaction.atomic():
        _audit(scope, "tag.deleted", "", "", "tag", slug)
        tag.delete()

"""Point-in-time commits of a folder: paging them, the folder's state after one of them, and what
rolling back to one would change."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from secrets_app.errors import NotFound
from secrets_app.models import FolderCommit, Secret, SecretType
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get


def folder_commit_list(scope: ProjectScope, *, environment: str, path: str = "/") -> QuerySet[FolderCommit]:
    """The folder's commits, newest first, as a query to slice. Requires ``secrets.read`` at the
    folder; raises NotFound for a missing folder. Listings need ``live_count``, never the stored
    state, so checkpoints' snapshots are not loaded."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path)
    return FolderCommit.objects.filter(folder=folder).order_by("-id").defer("state", "changes")


def folder_commit_state(commit: FolderCommit) -> dict[int, int]:
    """The folder's live secrets (id → version) right after *commit*: the nearest checkpoint at or
    before it, then the changes of each later commit up to *commit*, in id order. A folder whose
    first commits predate any checkpoint starts from empty (every secret write records a commit)."""
    state: dict[int, int] = {}
    start = 0
    checkpoint = (
        FolderCommit.objects.filter(folder_id=commit.folder_id, pk__lte=commit.pk, state__isnull=False)
        .order_by("-pk")
        .values_list("pk", "state")
        .first()
    )
    if checkpoint is not None:
        start, snapshot = checkpoint
        state = {int(secret_id): int(version) for secret_id, version in (snapshot or {}).items()}
    later = (
        FolderCommit.objects.filter(folder_id=commit.folder_id, pk__gt=start, pk__lte=commit.pk)
        .order_by("pk")
        .values_list("changes", flat=True)
    )
    for changes in later:
        for secret_id, version in (changes or {}).items():
            if version is None:
                state.pop(int(secret_id), None)
            else:
                state[int(secret_id)] = int(version)
    return state


@dataclass
class RollbackPlan:
    """What rolling the folder back to a commit would do, by key (never a value)."""

    commit_id: int
    number: int  # the commit's position in its folder (what the history shows as #n)
    remove: list[str] = field(default_factory=list)  # live now, absent then: deleted
    restore: list[str] = field(default_factory=list)  # deleted since: brought back
    revert: list[tuple[str, int, int]] = field(default_factory=list)  # (key, version now, version restored)
    hidden: int = 0  # secrets it touches that the caller may not list (named by count only)

    @property
    def is_empty(self) -> bool:
        return not (self.remove or self.restore or self.revert or self.hidden)


def folder_commit_number(commit: FolderCommit) -> int:
    """The commit's position among its folder's commits, from 1 (ids are shared by every folder)."""
    return FolderCommit.objects.filter(folder_id=commit.folder_id, pk__lte=commit.pk).count()


def folder_rollback_plan(scope: ProjectScope, *, environment: str, path: str, commit_id: int) -> RollbackPlan:
    """What ``services.rollback.folder_rollback`` would change now, for the confirmation the person
    reads before confirming. The same rules: live secrets absent from the commit's state are
    removed, deleted ones in it restored, others set back to its version. Requires
    ``secrets.rollback`` at the folder; NotFound for a commit of another folder."""
    env, folder = folder_get(scope, environment, path)
    commit = FolderCommit.objects.filter(folder=folder, pk=commit_id).defer("state", "changes").first()
    if commit is None:
        raise NotFound("Commit not found in this folder")
    require(scope, "secrets.rollback", environment=env.slug, path=folder.path)
    target = folder_commit_state(commit)
    plan = RollbackPlan(commit_id=commit.pk, number=folder_commit_number(commit))
    user_id = scope.principal.user_id
    for secret in (
        Secret.objects.filter(Q(deleted_at__isnull=True) | Q(pk__in=list(target)), folder=folder)
        .prefetch_related("tags")
        .order_by("key", "pk")
    ):
        if secret.pk not in target:
            change = "remove" if secret.deleted_at is None else ""
        elif secret.deleted_at is not None:
            change = "restore"
        else:
            change = "revert" if secret.version != target[secret.pk] else ""
        if not change:
            continue
        tags = [tag.slug for tag in secret.tags.all()]
        if (secret.type == SecretType.PERSONAL and secret.owner_id != user_id) or not scope.access.can(
            "secrets.read", environment=env.slug, path=folder.path, tags=tags
        ):
            plan.hidden += 1
        elif change == "remove":
            plan.remove.append(secret.key)
        elif change == "restore":
            plan.restore.append(secret.key)
            if secret.version != target[secret.pk]:
                plan.revert.append((secret.key, secret.version, target[secret.pk]))
        else:
            plan.revert.append((secret.key, secret.version, target[secret.pk]))
    return plan

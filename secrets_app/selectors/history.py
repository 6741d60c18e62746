"""What each change to a folder did, for the history the web UI shows: per commit, which secrets it
touched and how (created, deleted, restored, a new version, or key/tags/metadata only), and whether
the value and the comment changed. Never a value.

"Value changed yes/no" needs plaintext: for the secrets whose values the caller may read, the two
versions are decrypted, compared in memory and dropped (only the two booleans leave this module).
The comparison is recorded as one ``secret.values_compared`` event per history shown (the way the
matrix records its comparison), before anything derived from it is returned. Where the caller may
not read the value, the entry says "value or comment changed" (``value_changed`` is None).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber

from secrets_app.crypto.secret_fields import version_plaintext
from secrets_app.models import FolderCommit, Secret, SecretType, SecretVersion
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.commits import folder_commit_state
from secrets_app.selectors.tree import folder_get

COMPARED_ACTION = "secret.values_compared"


class ChangeKind:
    CREATED = "created"
    DELETED = "deleted"
    RESTORED = "restored"
    NEW_VERSION = "new version"
    METADATA = "metadata"  # key, tags, owner, purpose or expiry: no new version


@dataclass
class SecretChange:
    secret_id: int
    key: str  # the secret's key now (a rename is told by the commit's message)
    kind: str
    before: int | None  # version before the commit (None: not live)
    after: int | None  # version after it (None: deleted)
    value_changed: bool | None = None  # None: not compared (the caller may not read the value)
    comment_changed: bool | None = None
    live: bool = False  # the secret is live now: its versions can be compared on request

    @property
    def can_diff(self) -> bool:
        """A "reveal diff" is offered: two versions whose value the caller may read, of a live secret."""
        return self.live and self.value_changed is not None and self.before is not None and self.after is not None


@dataclass
class CommitEntry:
    id: int
    number: int  # 1, 2, 3 … per folder (the id is a global sequence shared by every folder)
    message: str
    actor_label: str
    created_at: datetime.datetime
    live_count: int
    changes: list[SecretChange] = field(default_factory=list)
    hidden: int = 0  # touched secrets the caller may not see (tag-limited role, others' personal values)


def numbered_commits(folder_id: int) -> QuerySet[FolderCommit]:
    """The folder's commits, newest first, each with ``number`` (its position in the folder, from 1).
    The window runs before the LIMIT a slice adds, so a page keeps the folder-wide numbers."""
    return (
        FolderCommit.objects.filter(folder_id=folder_id)
        .annotate(number=Window(RowNumber(), order_by=F("id").asc()))
        .order_by("-id")
    )


def _state_before(commit: FolderCommit) -> dict[int, int]:
    previous = FolderCommit.objects.filter(folder_id=commit.folder_id, pk__lt=commit.pk).order_by("-pk").first()
    return folder_commit_state(previous) if previous is not None else {}


def _touched(commit: FolderCommit, before: dict[int, int]) -> dict[int, int | None]:
    """Secret id -> version after *commit* (None: deleted). Rows written before deltas carry only
    their state: what they touched is the difference from the state before them."""
    if commit.changes is not None:
        return {int(secret_id): (int(v) if v is not None else None) for secret_id, v in commit.changes.items()}
    after = {int(secret_id): int(version) for secret_id, version in (commit.state or {}).items()}
    touched: dict[int, int | None] = {sid: v for sid, v in after.items() if before.get(sid) != v}
    touched.update({sid: None for sid in before if sid not in after})
    return touched


def _kind(before: int | None, after: int | None) -> str:
    if after is None:
        return ChangeKind.DELETED
    if before is None:
        return ChangeKind.CREATED if after == 1 else ChangeKind.RESTORED
    return ChangeKind.METADATA if before == after else ChangeKind.NEW_VERSION


def folder_history(scope: ProjectScope, *, environment: str, path: str, limit: int = 100) -> list[CommitEntry]:
    """The folder's newest *limit* commits, newest first, with what each did to the secrets the
    caller may see. Requires ``secrets.read`` at the folder (NotFound for a missing folder)."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path)
    commits = list(numbered_commits(folder.pk)[:limit])
    if not commits:
        return []
    return _entries(scope, env.slug, folder.path, commits, _state_before(commits[-1]))


def secret_history(
    scope: ProjectScope, *, environment: str, path: str, key: str, limit: int = 100
) -> list[CommitEntry]:
    """The commits that touched the shared secret *key* (newest first), each narrowed to that secret:
    its new versions and its key/tags/metadata-only changes. Requires ``secrets.read`` at the folder."""
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path, resource=key, some_tags=True)
    secret = Secret.objects.filter(folder=folder, key=key, type=SecretType.SHARED, deleted_at__isnull=True).first()
    if secret is None:
        return []
    # Numbered among all the folder's commits (a window over the filtered rows would renumber them).
    position = (
        FolderCommit.objects.filter(folder_id=OuterRef("folder_id"), pk__lte=OuterRef("pk"))
        .order_by()
        .values("folder_id")
        .annotate(count=Count("*"))
        .values("count")
    )
    commits = list(
        FolderCommit.objects.filter(folder=folder, changes__has_key=str(secret.pk))
        .annotate(number=Subquery(position))
        .order_by("-id")[:limit]
    )
    if not commits:
        return []
    before = _state_before(commits[-1])
    state = {secret.pk: before[secret.pk]} if secret.pk in before else {}
    return _entries(scope, env.slug, folder.path, commits, state, only=secret.pk)


def _entries(
    scope: ProjectScope,
    environment: str,
    path: str,
    commits: Sequence[FolderCommit],
    state: dict[int, int],
    *,
    only: int | None = None,
) -> list[CommitEntry]:
    """*commits* (newest first, consecutive unless *only* names the one secret they all touched)
    described from *state*, the folder's state before the oldest of them."""
    touched_by: dict[int, dict[int, int | None]] = {}
    befores: dict[int, dict[int, int]] = {}
    for commit in reversed(commits):
        touched = _touched(commit, state)
        if only is not None:
            touched = {sid: version for sid, version in touched.items() if sid == only}
        befores[commit.pk] = {sid: state[sid] for sid in touched if sid in state}
        touched_by[commit.pk] = touched
        for sid, version in touched.items():
            if version is None:
                state.pop(sid, None)
            else:
                state[sid] = version
    ids = {sid for touched in touched_by.values() for sid in touched}
    visible = _visible_secrets(scope, environment, path, ids)
    pairs = {
        (sid, befores[commit.pk][sid], version)
        for commit in commits
        for sid, version in touched_by[commit.pk].items()
        if sid in visible and version is not None and sid in befores[commit.pk] and befores[commit.pk][sid] != version
    }
    compared = _compare_versions(scope, environment, path, visible, pairs)
    entries = []
    for commit in commits:
        entry = CommitEntry(
            id=commit.pk,
            number=commit.number,  # type: ignore[attr-defined]  # annotated by the caller's query
            message=commit.message,
            actor_label=commit.actor_label,
            created_at=commit.created_at,
            live_count=commit.live_count,
        )
        for sid, after in sorted(touched_by[commit.pk].items(), key=lambda item: visible.get(item[0], ("", False))):
            if sid not in visible:
                entry.hidden += 1
                continue
            before = befores[commit.pk].get(sid)
            value_changed, comment_changed = compared.get((sid, before, after), (None, None))
            key, live = visible[sid]
            entry.changes.append(
                SecretChange(
                    secret_id=sid,
                    key=key,
                    kind=_kind(before, after),
                    before=before,
                    after=after,
                    value_changed=value_changed,
                    comment_changed=comment_changed,
                    live=live,
                )
            )
        entries.append(entry)
    return entries


def _visible_secrets(scope: ProjectScope, environment: str, path: str, ids: set[int]) -> dict[int, tuple[str, bool]]:
    """Of *ids*, the secrets the caller may list here (with their tags; another person's personal
    override never): id -> (key, live now)."""
    visible: dict[int, tuple[str, bool]] = {}
    user_id = scope.principal.user_id
    for secret in Secret.objects.filter(pk__in=ids).prefetch_related("tags"):
        if secret.type == SecretType.PERSONAL and secret.owner_id != user_id:
            continue
        tags = [tag.slug for tag in secret.tags.all()]
        if scope.access.can("secrets.read", environment=environment, path=path, tags=tags):
            visible[secret.pk] = (secret.key, secret.deleted_at is None)
    return visible


def _compare_versions(
    scope: ProjectScope,
    environment: str,
    path: str,
    visible: dict[int, tuple[str, bool]],
    pairs: set[tuple[int, int, int]],
) -> dict[tuple[int, int | None, int | None], tuple[bool, bool]]:
    """(secret id, version a, version b) -> (value changed, comment changed), for the pairs whose
    value the caller may read. One audit event for all of them, written before returning."""
    if not pairs:
        return {}
    # A quarantined secret's values are neither compared nor delivered (governance), as in the matrix.
    secrets = {
        secret.pk: secret
        for secret in Secret.objects.filter(
            pk__in={sid for sid, _, _ in pairs}, quarantined_at__isnull=True
        ).prefetch_related("tags")
        if scope.access.can(
            "secrets.read_value", environment=environment, path=path, tags=[tag.slug for tag in secret.tags.all()]
        )
    }
    readable = [pair for pair in pairs if pair[0] in secrets]
    if not readable:
        return {}
    wanted = {(sid, version) for sid, a, b in readable for version in (a, b)}
    rows = {
        (row.secret_id, row.version): row
        for row in SecretVersion.objects.filter(
            secret_id__in={sid for sid, _ in wanted}, version__in={version for _, version in wanted}
        )
        if (row.secret_id, row.version) in wanted
    }
    results: dict[tuple[int, int | None, int | None], tuple[bool, bool]] = {}
    for sid, a, b in readable:
        if (sid, a) not in rows or (sid, b) not in rows:
            continue
        old_value, old_comment = version_plaintext(secrets[sid], rows[(sid, a)])
        new_value, new_comment = version_plaintext(secrets[sid], rows[(sid, b)])
        results[(sid, a, b)] = (old_value != new_value, (old_comment or None) != (new_comment or None))
        del old_value, old_comment, new_value, new_comment
    if results:
        scope.audit(
            COMPARED_ACTION,
            environment=environment,
            path=path,
            resource_type="secret",
            metadata={
                "purpose": "history",
                "keys": sorted({visible[sid][0] for sid, _, _ in results})[:500],
                "ids": sorted({sid for sid, _, _ in results})[:500],
                "versions": sorted(f"{sid}:v{a}-v{b}" for sid, a, b in results)[:500],
                "count": len(results),
            },
        )
    return results

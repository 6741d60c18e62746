"""Change requests: the held secret writes of a protected env+path, from opening to merge.

Every function is keyword-only, transactional and audited (``change_request.*``); audit metadata
names requests, keys and people, never a value. Who may do what:

- **review** (approve / reject): the policy's approvers only (people; a group counts with its
  current members). The committer may not review their own request unless the policy allows
  self-approval. One review per reviewer per revision (a second one replaces the first).
- **merge, rebase, close, reopen**: the committer, a policy approver, or a project admin
  (``approvals.manage``). Merge needs quorum: approved reviews of the *current* revision from
  distinct current approvers ≥ ``approvals_required``, and no rejection of that revision.
- **break-glass** (merge without quorum): soft policies only; by a bypasser of the policy or,
  when the policy names none, by a project admin; with a reason of at least 10 characters.
  A rejection blocks break-glass too. Hard policies can never be bypassed, not even by admins.
- **revise**: the committer only; new values for the same keys (or withdrawing keys) start a new
  revision, so earlier reviews no longer count.

A merge re-runs the core write services *as the committer* (their permission is checked again,
and the normal events, folder commit, history and syncs happen) inside ``write_gate_bypassed``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from approvals.crypto import open_item_field, seal_item_field
from approvals.errors import MergeBlocked, MergeConflict, RequestNotOpen
from approvals.models import (
    ApprovalPolicy,
    ChangeRequest,
    ChangeRequestItem,
    ChangeReview,
    Enforcement,
    RequestComment,
    RequestStatus,
    ReviewStatus,
)
from approvals.selectors.policies import policy_approver_ids, policy_bypasser_ids
from secrets_app.errors import PermissionDenied, ValidationFailed
from secrets_app.models import Folder, FolderCommit, Secret, SecretType
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope_for
from secrets_app.selectors.tree import folder_subtree
from secrets_app.write_gate import ChangeOp, WriteIntent, write_gate_bypassed

MIN_BYPASS_REASON = 10
PER_KEY_OPS = (ChangeOp.CREATE, ChangeOp.UPDATE, ChangeOp.DELETE, ChangeOp.ROLLBACK_SECRET)


# --- helpers ----------------------------------------------------------------------------------
def _is_admin(scope: ProjectScope) -> bool:
    return scope.access.can("approvals.manage")


def is_committer(request: ChangeRequest, principal: Principal) -> bool:
    if principal.user_id is not None:
        return request.committer_user_id == principal.user_id
    if principal.identity_id is not None:
        return request.committer_identity_id == principal.identity_id
    return False


def _approver_ids(request: ChangeRequest) -> set[int]:
    return policy_approver_ids(request.policy) if request.policy is not None else set()


def _audit(scope: ProjectScope, action: str, request: ChangeRequest, **metadata: Any) -> None:
    scope.audit(
        action,
        environment=request.environment.slug,
        path=request.path,
        resource_type="change_request",
        resource_id=str(request.public_id),
        metadata={"request_id": str(request.public_id), "slug": request.slug, **metadata},
    )


def _keys(request: ChangeRequest) -> list[str]:
    return [item.key for item in request.items.all() if item.key]


def _lock(request: ChangeRequest) -> ChangeRequest:
    return (
        ChangeRequest.objects.select_for_update(of=("self",))
        .select_related("project", "environment", "policy", "committer_user", "committer_identity")
        .get(pk=request.pk)
    )


def _require_open(request: ChangeRequest) -> None:
    if request.status != RequestStatus.OPEN:
        raise RequestNotOpen(f"Change request {request.slug} is {request.status}")
    if request.policy is None:
        raise RequestNotOpen(f"Change request {request.slug} has no policy any more")
    # Past its expiry it is expired, whether or not the beat task has marked it yet.
    if request.expires_at <= _now():
        raise RequestNotOpen(f"Change request {request.slug} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC")


def _require_party(scope: ProjectScope, request: ChangeRequest, what: str) -> None:
    """The committer, a policy approver or a project admin; anyone else is refused (audited)."""
    principal = scope.principal
    if is_committer(request, principal) or _is_admin(scope):
        return
    if principal.user_id is not None and principal.user_id in _approver_ids(request):
        return
    scope.audit_denial(f"change_request.{what}", resource_type="change_request", resource_id=str(request.public_id))
    raise PermissionDenied(f"Only the committer, an approver of the policy or a project admin may {what} this request")


def _now() -> datetime.datetime:
    return timezone.now()


def _settle(request: ChangeRequest, scope: ProjectScope, status: str, reason: str = "") -> None:
    request.status = status
    request.settled_at = _now()
    request.settled_by = scope.principal.user if scope.principal.is_user else None
    request.settled_reason = reason[:500]
    request.save(update_fields=["status", "settled_at", "settled_by", "settled_reason", "updated_at"])


# --- opening (called by the write gate) -------------------------------------------------------
def _subtree_commit(folder: Folder) -> tuple[int, list[str]]:
    """The newest commit id anywhere in the folder's subtree, and the subtree's paths: a folder
    delete is stale when either changed."""
    subtree = folder_subtree(folder)
    newest = FolderCommit.objects.filter(folder__in=subtree).aggregate(newest=Max("pk"))["newest"] or 0
    return int(newest), sorted(item.path for item in subtree)


def change_request_open(*, intent: WriteIntent, policy: ApprovalPolicy) -> ChangeRequest:
    """Record *intent* as an open change request under *policy* (its own transaction), values
    sealed, base versions pinned; audited ``change_request.opened``; approvers notified after
    commit."""
    from approvals.notify import notify_opened

    scope = intent.scope
    principal = scope.principal
    with transaction.atomic():
        request = ChangeRequest.objects.create(
            project=scope.project,
            environment=intent.environment,
            folder=intent.folder,
            path=intent.folder.path,
            policy=policy,
            operation=intent.operation,
            committer_user=principal.user if principal.is_user else None,
            committer_identity=principal.identity if principal.is_identity else None,
            committer_label=principal.label[:200],
            expires_at=_now() + datetime.timedelta(hours=policy.request_ttl_hours),
        )
        items = []
        for position, change in enumerate(intent.changes):
            metadata = dict(change.metadata)
            if change.op == ChangeOp.FOLDER_DELETE:
                newest, paths = _subtree_commit(intent.folder)
                metadata.update(subtree_commit=newest, subtree_paths=paths)
            items.append(
                ChangeRequestItem(
                    request=request,
                    position=position,
                    op=change.op,
                    key=change.key,
                    new_key=change.new_key or "",
                    secret_type=change.secret_type,
                    base_version=change.base_version,
                    target_version=change.target_version,
                    commit_id=change.commit_id,
                    base_commit_id=change.base_commit_id,
                    tags=list(change.tags) if change.tags is not None else None,
                    metadata=metadata,
                    value_ciphertext=_seal(request, position, "value", change.value),
                    comment_ciphertext=_seal(request, position, "comment", change.comment),
                )
            )
        ChangeRequestItem.objects.bulk_create(items)
        _audit(
            scope,
            "change_request.opened",
            request,
            policy_id=str(policy.public_id),
            operation=intent.operation,
            keys=intent.keys[:500],
        )
        transaction.on_commit(lambda: notify_opened(request))
    return request


def _seal(request: ChangeRequest, position: int, field: str, plaintext: str | None) -> bytes | None:
    return seal_item_field(
        project_id=request.project_id,
        request_public_id=str(request.public_id),
        position=position,
        field=field,
        plaintext=plaintext,
    )


def _open(request: ChangeRequest, item: ChangeRequestItem, field: str) -> str | None:
    return open_item_field(
        project_id=request.project_id,
        request_public_id=str(request.public_id),
        position=item.position,
        field=field,
        ciphertext=item.value_ciphertext if field == "value" else item.comment_ciphertext,
    )


# --- quorum and conflicts ---------------------------------------------------------------------
@dataclass(frozen=True)
class Quorum:
    approvals: int
    required: int
    rejected_by: tuple[str, ...]

    @property
    def met(self) -> bool:
        return self.approvals >= self.required and not self.rejected_by


def change_request_quorum(request: ChangeRequest) -> Quorum:
    """Approved reviews of the current revision by distinct current approvers, and who rejected it."""
    approvers = _approver_ids(request)
    reviews = ChangeReview.objects.filter(request=request, revision=request.revision).select_related("reviewer")
    approved = {r.reviewer_id for r in reviews if r.status == ReviewStatus.APPROVED and r.reviewer_id in approvers}
    if request.policy is not None and not request.policy.allow_self_approval and request.committer_user_id:
        approved.discard(request.committer_user_id)
    rejected = tuple(r.reviewer.get_username() for r in reviews if r.status == ReviewStatus.REJECTED)
    required = request.policy.approvals_required if request.policy is not None else 1
    return Quorum(approvals=len(approved), required=required, rejected_by=rejected)


def _live_versions(folder: Folder, keys: Sequence[str]) -> dict[str, int]:
    return dict(
        Secret.objects.filter(
            folder=folder, key__in=list(keys), type=SecretType.SHARED, deleted_at__isnull=True
        ).values_list("key", "version")
    )


def change_request_conflicts(request: ChangeRequest) -> list[dict[str, Any]]:
    """What changed since the request was opened (or last rebased), per item:
    ``{"key", "op", "reason", "baseVersion", "currentVersion"}``. Empty when it applies cleanly."""
    folder = Folder.objects.filter(environment_id=request.environment_id, path=request.path).first()
    items = list(request.items.all())
    if folder is None:
        return [
            {"key": item.key, "op": item.op, "reason": "the folder was deleted or renamed since",
             "baseVersion": item.base_version, "currentVersion": None}
            for item in items
        ]  # fmt: skip
    live = _live_versions(folder, [key for item in items for key in (item.key, item.new_key) if key])
    conflicts: list[dict[str, Any]] = []

    def add(item: ChangeRequestItem, reason: str, current: int | None) -> None:
        conflicts.append(
            {
                "key": item.key,
                "op": item.op,
                "reason": reason,
                "baseVersion": item.base_version,
                "currentVersion": current,
            }
        )

    for item in items:
        current = live.get(item.key)
        if item.op == ChangeOp.CREATE:
            if current is not None:
                add(item, "a secret with this key was created since", current)
        elif item.op in (ChangeOp.UPDATE, ChangeOp.DELETE, ChangeOp.ROLLBACK_SECRET):
            if current is None:
                add(item, "the secret was deleted since", None)
            elif current != item.base_version:
                add(item, f"the secret changed since (v{item.base_version} → v{current})", current)
            elif item.new_key and item.new_key != item.key and item.new_key in live:
                add(item, f"a secret named {item.new_key} was created since", current)
        elif item.op == ChangeOp.ROLLBACK_FOLDER:
            newest = FolderCommit.objects.filter(folder=folder).order_by("-pk").values_list("pk", flat=True).first()
            if newest != item.base_commit_id:
                add(item, "the folder changed since", None)
        elif item.op == ChangeOp.FOLDER_DELETE:
            newest, paths = _subtree_commit(folder)
            if newest != item.metadata.get("subtree_commit") or paths != item.metadata.get("subtree_paths"):
                add(item, "the folder or a folder below it changed since", None)
    return conflicts


# --- review -----------------------------------------------------------------------------------
def change_request_review(
    *, request: ChangeRequest, reviewer: ProjectScope, status: str, comment: str = ""
) -> ChangeReview:
    """Approve or reject the current revision. Policy approvers only (people); the committer only
    when the policy allows self-approval. A second review by the same person on the same revision
    replaces the first. Audited ``change_request.reviewed``."""
    from approvals.notify import notify_follow_up

    if status not in ReviewStatus.values:
        raise ValidationFailed("status", "must be 'approved' or 'rejected'")
    if len(comment or "") > 2000:
        raise ValidationFailed("comment", "at most 2000 characters")
    principal = reviewer.principal
    _require_open(request)
    # Refusals before the transaction, so their audit rows are committed.
    if principal.user_id is None or principal.user_id not in _approver_ids(request):
        reviewer.audit_denial(
            "change_request.review", resource_type="change_request", resource_id=str(request.public_id)
        )
        raise PermissionDenied("Only an approver of this request's policy may review it")
    assert request.policy is not None  # _require_open
    if is_committer(request, principal) and not request.policy.allow_self_approval:
        reviewer.audit_denial(
            "change_request.review", resource_type="change_request", resource_id=str(request.public_id)
        )
        raise PermissionDenied("You may not review your own change request (the policy forbids self-approval)")
    with transaction.atomic():
        request = _lock(request)
        _require_open(request)
        review, _ = ChangeReview.objects.update_or_create(
            request=request,
            reviewer=principal.user,
            revision=request.revision,
            defaults={"status": status, "comment": (comment or "").strip()},
        )
        request.save(update_fields=["updated_at"])
        _audit(reviewer, "change_request.reviewed", request, status=status, revision=request.revision)
        quorum = change_request_quorum(request)
        if status == ReviewStatus.REJECTED:
            transaction.on_commit(lambda: notify_follow_up(request, f"rejected by {principal.label}", final=False))
        elif quorum.met:
            transaction.on_commit(lambda: notify_follow_up(request, "approved: ready to merge", final=False))
    return review


# --- revise, rebase ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RevisedItem:
    """A new proposal for one key of the request: a new ``value`` (and optionally ``comment``),
    or ``withdraw`` to drop the key from the request."""

    key: str
    value: str | None = None
    comment: str | None = None
    withdraw: bool = False

    def __repr__(self) -> str:  # never the value
        return f"RevisedItem(key={self.key!r}, withdraw={self.withdraw})"


def _new_revision(request: ChangeRequest) -> None:
    request.revision += 1
    request.conflicts = []
    request.save(update_fields=["revision", "conflicts", "updated_at"])


def change_request_revise(*, request: ChangeRequest, by: ProjectScope, changes: Sequence[RevisedItem]) -> ChangeRequest:
    """The committer answers a rejection (or second thoughts): new proposed values for keys of
    the request, or keys withdrawn. Starts a new revision (earlier reviews stop counting) and
    tells the approvers. Values are validated as the core would, and sealed again."""
    from approvals.notify import notify_follow_up
    from secrets_app.validation import encode_secret_value

    if not changes:
        raise ValidationFailed("changes", "name at least one key to change or withdraw")
    with transaction.atomic():
        request = _lock(request)
        _require_open(request)
        if not is_committer(request, by.principal):
            by.audit_denial("change_request.revise", resource_type="change_request", resource_id=str(request.public_id))
            raise PermissionDenied("Only the committer may revise a change request")
        items = {item.key: item for item in request.items.all() if item.key}
        for index, change in enumerate(changes):
            item = items.get(change.key)
            if item is None:
                raise ValidationFailed(f"changes[{index}].key", f"'{change.key}' is not part of this request")
            if change.withdraw:
                item.delete()
                items.pop(change.key)
                continue
            if item.op not in (ChangeOp.CREATE, ChangeOp.UPDATE):
                raise ValidationFailed(f"changes[{index}].key", f"'{change.key}' is a {item.op}: withdraw it instead")
            if change.value is None and change.comment is None:
                raise ValidationFailed(f"changes[{index}].value", "give a new value or comment, or withdraw the key")
            if change.value is not None:
                encode_secret_value(change.value, field=f"changes[{index}].value")
                item.value_ciphertext = _seal(request, item.position, "value", change.value)
            if change.comment is not None:
                item.comment_ciphertext = _seal(request, item.position, "comment", change.comment)
            item.save(update_fields=["value_ciphertext", "comment_ciphertext"])
        if not request.items.exists():
            raise ValidationFailed("changes", "that would withdraw everything: close the request instead")
        _new_revision(request)
        _audit(
            by,
            "change_request.revised",
            request,
            revision=request.revision,
            keys=[change.key for change in changes if not change.withdraw],
            withdrawn=[change.key for change in changes if change.withdraw],
        )
        transaction.on_commit(
            lambda: notify_follow_up(request, f"revised (revision {request.revision}): review again", final=False)
        )
    return request


def change_request_rebase(*, request: ChangeRequest, by: ProjectScope) -> ChangeRequest:
    """Pin the request to the secrets as they are now: base versions move to the live ones, a
    create whose key appeared becomes an update, an update whose secret vanished becomes a
    create, a delete of a vanished secret is dropped. Starts a new revision (reviews reset), so
    approvers approve the new diff. Refused when nothing would be left to apply."""
    from approvals.notify import notify_follow_up

    with transaction.atomic():
        request = _lock(request)
        _require_open(request)
        _require_party(by, request, "rebase")
        folder = Folder.objects.filter(environment_id=request.environment_id, path=request.path).first()
        if folder is None:
            raise ValidationFailed("path", f"Folder '{request.path}' no longer exists: close the request")
        items = list(request.items.all())
        live = _live_versions(folder, [item.key for item in items if item.key])
        for item in items:
            current = live.get(item.key)
            if item.op == ChangeOp.CREATE and current is not None:
                item.op, item.base_version = ChangeOp.UPDATE, current
            elif item.op == ChangeOp.UPDATE:
                if current is None:
                    item.op, item.base_version = ChangeOp.CREATE, None
                else:
                    item.base_version = current
            elif item.op == ChangeOp.DELETE:
                if current is None:
                    item.delete()
                    continue
                item.base_version = current
            elif item.op == ChangeOp.ROLLBACK_SECRET:
                if current is None:
                    raise ValidationFailed("items", f"'{item.key}' was deleted since: close the request")
                item.base_version = current
            elif item.op == ChangeOp.ROLLBACK_FOLDER:
                item.base_commit_id = (
                    FolderCommit.objects.filter(folder=folder).order_by("-pk").values_list("pk", flat=True).first()
                )
            elif item.op == ChangeOp.FOLDER_DELETE:
                newest, paths = _subtree_commit(folder)
                item.metadata = {**item.metadata, "subtree_commit": newest, "subtree_paths": paths}
            item.save()
        if not request.items.exists():
            raise ValidationFailed("items", "nothing is left to apply: close the request")
        request.folder = folder
        _new_revision(request)
        request.save(update_fields=["folder"])
        _audit(by, "change_request.rebased", request, revision=request.revision, keys=_keys(request)[:500])
        transaction.on_commit(
            lambda: notify_follow_up(request, f"rebased (revision {request.revision}): review again", final=False)
        )
    return request


# --- merge ------------------------------------------------------------------------------------
def _committer_scope(request: ChangeRequest) -> ProjectScope:
    if request.committer_user is not None:
        if not request.committer_user.is_active:
            raise PermissionDenied("The committer's account is deactivated: the change cannot be applied as them")
        return project_scope_for(Principal.for_user(request.committer_user), request.project)
    if request.committer_identity is not None:
        if not request.committer_identity.is_active:
            raise PermissionDenied("The committing machine identity is disabled: the change cannot be applied")
        return project_scope_for(Principal.for_identity(request.committer_identity), request.project)
    raise PermissionDenied("The committer no longer exists: the change cannot be applied as them")


def _secret_input(request: ChangeRequest, item: ChangeRequestItem) -> Any:
    from secrets_app.services.secrets import UNSET, SecretInput

    metadata = item.metadata or {}
    expires: Any = UNSET
    if "expires_at" in metadata:
        expires = parse_datetime(metadata["expires_at"]) if metadata["expires_at"] else None
    return SecretInput(
        key=item.key,
        value=_open(request, item, "value"),
        comment=_open(request, item, "comment"),
        tags=list(item.tags) if item.tags is not None else None,
        owner_label=metadata.get("owner_label"),
        purpose=metadata.get("purpose"),
        expires_at=expires,
    )


def _apply(request: ChangeRequest, scope: ProjectScope) -> None:
    """Re-run the core services as the committer. Runs inside the merge's transaction."""
    from secrets_app.services.folders import folder_delete
    from secrets_app.services.rollback import folder_rollback, secret_rollback
    from secrets_app.services.secrets import secret_bulk_upsert, secret_create, secret_delete, secret_update

    env, path = request.environment.slug, request.path
    items = list(request.items.all())
    if request.operation == "secret.bulk_upserted":
        secret_bulk_upsert(scope=scope, environment=env, path=path, items=[_secret_input(request, i) for i in items])
        return
    for item in items:
        if item.op == ChangeOp.CREATE:
            secret_create(scope=scope, environment=env, path=path, item=_secret_input(request, item))
        elif item.op == ChangeOp.UPDATE:
            secret_update(
                scope=scope,
                environment=env,
                path=path,
                key=item.key,
                item=_secret_input(request, item),
                new_key=item.new_key or None,
                expected_version=item.base_version,
            )
        elif item.op == ChangeOp.DELETE:
            secret_delete(scope=scope, environment=env, path=path, key=item.key)
        elif item.op == ChangeOp.ROLLBACK_SECRET:
            assert item.target_version is not None
            secret_rollback(scope=scope, environment=env, path=path, key=item.key, version=item.target_version)
        elif item.op == ChangeOp.ROLLBACK_FOLDER:
            assert item.commit_id is not None
            folder_rollback(scope=scope, environment=env, path=path, commit_id=int(item.commit_id))
        elif item.op == ChangeOp.FOLDER_DELETE:
            folder_delete(scope=scope, environment=env, path=path)
        else:  # pragma: no cover - ops come from ChangeOp
            raise ValidationFailed("items", f"unknown operation {item.op}")


def _may_bypass(scope: ProjectScope, request: ChangeRequest) -> bool:
    assert request.policy is not None
    bypassers = policy_bypasser_ids(request.policy)
    if bypassers:
        return scope.principal.user_id is not None and scope.principal.user_id in bypassers
    return _is_admin(scope) and scope.principal.is_user


def change_request_merge(
    *, request: ChangeRequest, by: ProjectScope, bypass_reason: str | None = None
) -> ChangeRequest:
    """Apply the request. Needs quorum; without it, break-glass on a soft policy (see the module
    docstring) with *bypass_reason* (≥ 10 characters, stored in our database only). Conflicts
    with later changes refuse the merge (409 naming the keys): rebase or close. All or nothing:
    one transaction for every item, the request's status and the audit events."""
    if by.principal.user_id is None:
        raise PermissionDenied("Change requests are merged by people, not machine identities")
    reason = (bypass_reason or "").strip()
    _require_party(by, request, "merge")  # before the transaction, so the refusal's audit row stays
    try:
        return _merge(request=request, by=by, reason=reason)
    except MergeConflict as exc:
        # Shown on the request until it is rebased or closed (the merge's own transaction is undone).
        ChangeRequest.objects.filter(pk=request.pk).update(conflicts=exc.conflicts)
        raise


def _merge(*, request: ChangeRequest, by: ProjectScope, reason: str) -> ChangeRequest:
    from approvals.notify import notify_bypassed, notify_follow_up

    with write_gate_bypassed(f"change_request:{request.public_id}"), transaction.atomic():
        request = _lock(request)
        _require_open(request)
        _require_party(by, request, "merge")
        policy = request.policy
        assert policy is not None
        quorum = change_request_quorum(request)
        bypassed = False
        if quorum.rejected_by:
            raise MergeBlocked(
                f"Rejected by {', '.join(quorum.rejected_by)}: the committer must revise the request before it can merge"
            )
        if not quorum.met:
            if policy.enforcement == Enforcement.HARD:
                raise MergeBlocked(
                    f"Needs {quorum.required} approval(s), has {quorum.approvals}; policy {policy.name} is hard "
                    "(no break-glass)"
                )
            if not reason:
                raise MergeBlocked(
                    f"Needs {quorum.required} approval(s), has {quorum.approvals}. "
                    "A bypasser may break glass with a reason."
                )
            if len(reason) < MIN_BYPASS_REASON:
                raise ValidationFailed("bypassReason", f"must be at least {MIN_BYPASS_REASON} characters")
            if not _may_bypass(by, request):
                raise PermissionDenied(
                    "Only a bypasser of this policy (or, when it names none, a project admin) may merge without approvals"
                )
            bypassed = True
        conflicts = change_request_conflicts(request)
        if conflicts:
            raise MergeConflict(conflicts)
        _apply(request, _committer_scope(request))
        request.bypassed = bypassed
        request.bypass_reason = reason if bypassed else ""
        request.save(update_fields=["bypassed", "bypass_reason"])
        _settle(request, by, RequestStatus.MERGED)
        keys = _keys(request)[:500]
        committer = request.committer_label
        if bypassed:
            _audit(
                by, "change_request.bypassed", request, committer=committer, keys=keys, policy_id=str(policy.public_id)
            )
        _audit(by, "change_request.merged", request, committer=committer, keys=keys, bypassed=bypassed)
        label = by.principal.label
        if bypassed:
            transaction.on_commit(lambda: notify_bypassed(request, label))
        transaction.on_commit(
            lambda: notify_follow_up(request, f"merged by {label}" + (" (break-glass)" if bypassed else ""))
        )
    return request


# --- close, reopen, comment -------------------------------------------------------------------
def change_request_close(*, request: ChangeRequest, by: ProjectScope, reason: str = "") -> ChangeRequest:
    from approvals.notify import notify_follow_up

    with transaction.atomic():
        request = _lock(request)
        if request.status != RequestStatus.OPEN:
            raise RequestNotOpen(f"Change request {request.slug} is {request.status}")
        _require_party(by, request, "close")
        _settle(request, by, RequestStatus.CLOSED, (reason or "").strip())
        _audit(by, "change_request.closed", request)
        transaction.on_commit(lambda: notify_follow_up(request, f"closed by {by.principal.label}"))
    return request


def change_request_reopen(*, request: ChangeRequest, by: ProjectScope) -> ChangeRequest:
    """Reopen a closed (not merged, not expired) request; it gets a fresh expiry and a new
    revision (reviews of before the close no longer count)."""
    from approvals.notify import notify_opened

    with transaction.atomic():
        request = _lock(request)
        if request.status != RequestStatus.CLOSED:
            raise RequestNotOpen(f"Only a closed request can be reopened; {request.slug} is {request.status}")
        if request.policy is None:
            raise RequestNotOpen(f"Change request {request.slug} has no policy any more")
        _require_party(by, request, "reopen")
        request.status = RequestStatus.OPEN
        request.settled_at = None
        request.settled_by = None
        request.settled_reason = ""
        request.expires_at = _now() + datetime.timedelta(hours=request.policy.request_ttl_hours)
        request.save(update_fields=["status", "settled_at", "settled_by", "settled_reason", "expires_at", "updated_at"])
        _new_revision(request)
        _audit(by, "change_request.reopened", request, revision=request.revision)
        transaction.on_commit(lambda: notify_opened(request))
    return request


def change_request_comment(*, request: ChangeRequest, by: ProjectScope, body: str) -> RequestComment:
    """A comment by anyone who can see the request (people only)."""
    text = (body or "").strip()
    if not 1 <= len(text) <= 5000:
        raise ValidationFailed("body", "must be 1-5000 characters")
    if by.principal.user_id is None:
        raise PermissionDenied("Comments are written by people")
    with transaction.atomic():
        comment = RequestComment.objects.create(change_request=request, author=by.principal.user, body=text)
        _audit(by, "change_request.commented", request, comment_id=comment.pk)
    return comment

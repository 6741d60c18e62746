"""Reads of change requests: the one place their visibility is decided.

A request is visible to the committer, to its policy's approvers, to project admins, and to
project members who may list secrets (``secrets.read``) at its environment and path. A machine
identity sees only the requests it opened. Anyone else gets NotFound, as for a missing one.
Values are shown only to a viewer who may ``secrets.read_value`` there, on purpose, audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from approvals.models import ChangeRequest, ChangeReview, PolicyMember, PolicyMemberRole, RequestStatus
from approvals.selectors.policies import policy_approver_ids
from secrets_app.errors import NotFound, PermissionDenied, ValidationFailed
from secrets_app.models import Project, Secret, SecretType
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope
from secrets_app.write_gate import ChangeOp


def _base(project: Project) -> QuerySet[ChangeRequest]:
    return ChangeRequest.objects.filter(project=project).select_related(
        "project", "environment", "policy", "committer_user", "committer_identity", "settled_by"
    )


def change_request_visible(scope: ProjectScope, request: ChangeRequest) -> bool:
    principal = scope.principal
    if principal.identity_id is not None:
        return request.committer_identity_id == principal.identity_id
    if principal.user_id is None:
        return False
    if request.committer_user_id == principal.user_id or scope.access.can("approvals.manage"):
        return True
    if scope.access.can("secrets.read", environment=request.environment.slug, path=request.path):
        return True
    return request.policy is not None and principal.user_id in policy_approver_ids(request.policy)


def change_request_list_for(
    scope: ProjectScope, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[ChangeRequest]:
    """Requests of the scope's project the caller may see, newest first; *status* one of
    ``open|merged|closed|expired`` (``closed`` alone: ``closed``; None: all)."""
    if status is not None and status not in RequestStatus.values:
        raise ValidationFailed("status", f"must be one of {', '.join(RequestStatus.values)}")
    query = _base(scope.project)
    if status is not None:
        query = query.filter(status=status)
    if scope.principal.identity_id is not None:
        query = query.filter(committer_identity_id=scope.principal.identity_id)
    visible: list[ChangeRequest] = []
    skipped = 0
    for request in query.iterator(chunk_size=200):
        if not change_request_visible(scope, request):
            continue
        if skipped < offset:
            skipped += 1
            continue
        visible.append(request)
        if len(visible) >= limit:
            break
    return visible


def change_request_get_for(scope: ProjectScope, ref: str) -> ChangeRequest:
    """One visible request by public id or slug; NotFound otherwise (also when invisible)."""
    query = _base(scope.project)
    try:
        request = query.filter(public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        request = query.filter(slug=str(ref).lower()).first()
    if request is None or not change_request_visible(scope, request):
        raise NotFound("Change request not found")
    return request


def change_request_diff(request: ChangeRequest, viewer: ProjectScope, *, reveal: bool = False) -> list[dict[str, Any]]:
    """Per item: op, key, newKey, base version, current version, conflict flag and reason, and
    — only with *reveal* and only for a viewer who may ``secrets.read_value`` there — the current
    (``oldValue``) and proposed (``newValue``) values. A reveal is audited as
    ``change_request.value_revealed`` naming the keys; without one, values are None."""
    from approvals.services.change_requests import _open, change_request_conflicts

    conflicts = {(c["key"], c["op"]): c for c in change_request_conflicts(request)} if request.status == "open" else {}
    items = list(request.items.all())
    live = {
        secret.key: secret
        for secret in Secret.objects.filter(
            environment_id=request.environment_id,
            folder__path=request.path,
            key__in=[item.key for item in items if item.key],
            type=SecretType.SHARED,
            deleted_at__isnull=True,
        )
    }
    may_read = viewer.access.can("secrets.read_value", environment=request.environment.slug, path=request.path)
    if reveal and not may_read:
        viewer.audit_denial(
            "secrets.read_value",
            environment=request.environment.slug,
            path=request.path,
            resource_type="change_request",
            resource_id=str(request.public_id),
        )
        raise PermissionDenied("You may not read secret values here")
    rows = []
    for item in items:
        secret = live.get(item.key)
        conflict = conflicts.get((item.key, item.op))
        row: dict[str, Any] = {
            "position": item.position,
            "op": item.op,
            "key": item.key,
            "newKey": item.new_key or None,
            "baseVersion": item.base_version,
            "currentVersion": secret.version if secret is not None else None,
            "targetVersion": item.target_version,
            "commitId": item.commit_id,
            "tags": item.tags,
            "changesValue": item.value_ciphertext is not None,
            "changesComment": item.comment_ciphertext is not None,
            "conflict": conflict is not None,
            "conflictReason": conflict["reason"] if conflict else None,
            "oldValue": None,
            "newValue": None,
        }
        if reveal and item.op in ChangeOp.ALL and item.key:
            from secrets_app.selectors.secrets import current_plaintext

            if secret is not None:
                row["oldValue"] = current_plaintext(secret)[0].decode("utf-8")
            row["newValue"] = _open(request, item, "value")
        rows.append(row)
    if reveal:
        viewer.audit(
            "change_request.value_revealed",
            environment=request.environment.slug,
            path=request.path,
            resource_type="change_request",
            resource_id=str(request.public_id),
            metadata={"request_id": str(request.public_id), "keys": [item.key for item in items if item.key][:500]},
        )
    return rows


def change_requests_to_review(user: Any) -> QuerySet[ChangeRequest]:
    """Open requests waiting for *user*'s review (they approve under the policy, have not
    reviewed the current revision, and are not the committer unless self-approval is allowed)."""
    if user is None or not user.is_authenticated:
        return ChangeRequest.objects.none()
    group_ids = list(user.group_memberships.values_list("group_id", flat=True))
    policies = PolicyMember.objects.filter(role=PolicyMemberRole.APPROVER).filter(
        Q(user_id=user.pk) | Q(group_id__in=group_ids)
    )
    reviewed = ChangeReview.objects.filter(request=OuterRef("pk"), reviewer_id=user.pk, revision=OuterRef("revision"))
    return (
        ChangeRequest.objects.filter(status=RequestStatus.OPEN, policy_id__in=policies.values("policy_id"))
        .exclude(Exists(reviewed))
        .exclude(Q(committer_user_id=user.pk) & Q(policy__allow_self_approval=False))
        .select_related("project", "environment", "policy")
        .order_by("created_at", "id")
    )


def pending_review_count(user: Any) -> int:
    return change_requests_to_review(user).count()


def principal_is_approver(principal: Principal, request: ChangeRequest) -> bool:
    return (
        principal.user_id is not None
        and request.policy is not None
        and principal.user_id in policy_approver_ids(request.policy)
    )

"""The wire shapes of policies and change requests (REST, compat), built in one place so the
write gate's 202 body and the API's answers are the same object. Never a value."""

from __future__ import annotations

import datetime
from typing import Any

from approvals.models import ApprovalPolicy, ChangeRequest, PolicyMember, PolicyMemberRole
from approvals.selectors.policies import policy_people


def _iso(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _member(member: PolicyMember) -> dict[str, Any]:
    if member.user is not None:
        return {"type": "user", "id": str(member.user_id), "name": member.user.get_username()}
    assert member.group is not None
    return {"type": "group", "id": str(member.group.public_id), "name": member.group.slug}


def policy_shape(policy: ApprovalPolicy) -> dict[str, Any]:
    members = list(PolicyMember.objects.filter(policy=policy).select_related("user", "group"))
    return {
        "id": str(policy.public_id),
        "name": policy.name,
        "environments": [pe.environment.slug for pe in policy.policy_environments.select_related("environment")],
        "path": policy.path,
        "approvers": [_member(m) for m in members if m.role == PolicyMemberRole.APPROVER],
        "bypassers": [_member(m) for m in members if m.role == PolicyMemberRole.BYPASSER],
        "approverCount": policy_people(policy).count(),
        "approvalsRequired": policy.approvals_required,
        "enforcement": policy.enforcement,
        "allowSelfApproval": policy.allow_self_approval,
        "appliesToIdentities": policy.applies_to_identities,
        "governsChanges": policy.governs_changes,
        "governsAccess": policy.governs_access,
        "requestTtlHours": policy.request_ttl_hours,
        "maxAccessHours": policy.max_access_hours,
        "createdAt": _iso(policy.created_at),
        "updatedAt": _iso(policy.updated_at),
    }


def _committer(request: ChangeRequest) -> dict[str, Any]:
    if request.committer_identity is not None:
        return {"type": "identity", "id": str(request.committer_identity.public_id), "name": request.committer_label}
    return {
        "type": "user",
        "id": str(request.committer_user_id) if request.committer_user_id else None,
        "name": request.committer_label,
    }


def change_request_shape(
    request: ChangeRequest, *, url: str, items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The REST representation. *items* is ``change_request_diff`` (values masked unless revealed);
    None gives the items without live versions (the gate's answer)."""
    from approvals.services.change_requests import change_request_quorum

    quorum = change_request_quorum(request)
    if items is None:
        items = [
            {
                "position": item.position,
                "op": item.op,
                "key": item.key,
                "newKey": item.new_key or None,
                "baseVersion": item.base_version,
                "currentVersion": item.base_version,
                "targetVersion": item.target_version,
                "commitId": item.commit_id,
                "tags": item.tags,
                "changesValue": item.value_ciphertext is not None,
                "changesComment": item.comment_ciphertext is not None,
                "conflict": False,
                "conflictReason": None,
                "oldValue": None,
                "newValue": None,
            }
            for item in request.items.all()
        ]
    policy = request.policy
    return {
        "id": str(request.public_id),
        "slug": request.slug,
        "status": request.status,
        "project": request.project.slug,
        "environment": request.environment.slug,
        "path": request.path,
        "operation": request.operation,
        "policy": (
            {
                "id": str(policy.public_id),
                "name": policy.name,
                "enforcement": policy.enforcement,
                "approvalsRequired": policy.approvals_required,
                "allowSelfApproval": policy.allow_self_approval,
            }
            if policy is not None
            else None
        ),
        "committer": _committer(request),
        "revision": request.revision,
        "approvals": quorum.approvals,
        "approvalsRequired": quorum.required,
        "rejectedBy": list(quorum.rejected_by),
        "mergeable": request.status == "open" and quorum.met and not any(i["conflict"] for i in items),
        "reviews": [
            {
                "reviewer": review.reviewer.get_username(),
                "status": review.status,
                "comment": review.comment,
                "revision": review.revision,
                "current": review.revision == request.revision,
                "createdAt": _iso(review.created_at),
            }
            for review in request.reviews.select_related("reviewer")
        ],
        "comments": [
            {
                "author": comment.author.get_username() if comment.author else None,
                "body": comment.body,
                "createdAt": _iso(comment.created_at),
            }
            for comment in request.comments.select_related("author")
        ],
        "items": items,
        "conflicts": [{"key": i["key"], "op": i["op"], "reason": i["conflictReason"]} for i in items if i["conflict"]],
        "bypassed": request.bypassed,
        "settledReason": request.settled_reason or None,
        "createdAt": _iso(request.created_at),
        "updatedAt": _iso(request.updated_at),
        "expiresAt": _iso(request.expires_at),
        "settledAt": _iso(request.settled_at),
        "url": url,
    }


def compat_approval_shape(request: ChangeRequest) -> dict[str, Any]:
    """Infisical's ``SecretApprovalRequest`` (the body of a held write on /compat/infisical)."""
    return {
        "id": str(request.public_id),
        "policyId": str(request.policy.public_id) if request.policy else None,
        "hasMerged": request.status == "merged",
        "status": "open" if request.status == "open" else "close",
        "conflicts": None,
        "slug": request.slug,
        "folderId": str(request.folder_id) if request.folder_id else None,
        "createdAt": _iso(request.created_at),
        "updatedAt": _iso(request.updated_at),
        "isReplicated": False,
        "committerUserId": str(request.committer_user_id) if request.committer_user_id else None,
        "statusChangedByUserId": None,
        "bypassReason": None,
    }

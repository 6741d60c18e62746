"""Which approval policy governs a place, and who approves under it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from approvals.models import ApprovalPolicy, PolicyMember, PolicyMemberRole
from secrets_app.models import GroupMembership
from secrets_app.paths import path_matches

ENVIRONMENT_WIDE = "/**"


def _is_glob(path: str) -> bool:
    return any(char in path for char in "*?[")


def policy_score(policy_path: str, path: str) -> int | None:
    """How closely *policy_path* governs folder *path*: 2 exact, 1 glob, 0 environment-wide
    (``/**``), None when it does not apply. Infisical's precedence, made deterministic."""
    if policy_path == ENVIRONMENT_WIDE:
        return 0
    if policy_path == path:
        return 2
    if _is_glob(policy_path) and path_matches(policy_path, path):
        return 1
    return None


def policy_for(
    *, project_id: int, environment_id: int, paths: Iterable[str], governs: str = "changes"
) -> ApprovalPolicy | None:
    """The policy that governs a write or access request at *paths* (usually one folder; a folder
    delete passes its whole subtree) of an environment, or None.

    Precedence: exact path > glob > environment-wide; among equals the oldest policy wins. With
    several paths the strongest match over all of them wins, so a protected subfolder protects a
    delete of its parent. *governs* is ``changes`` or ``access``."""
    candidates = ApprovalPolicy.objects.filter(
        project_id=project_id, policy_environments__environment_id=environment_id
    ).order_by("created_at", "id")
    if governs == "changes":
        candidates = candidates.filter(governs_changes=True)
    elif governs == "access":
        candidates = candidates.filter(governs_access=True)
    else:
        raise ValueError(f"governs must be 'changes' or 'access', not {governs!r}")
    wanted = list(paths)
    best: tuple[int, ApprovalPolicy] | None = None
    for policy in candidates.distinct():
        scores = [score for path in wanted if (score := policy_score(policy.path, path)) is not None]
        if scores and (best is None or max(scores) > best[0]):
            best = (max(scores), policy)
    return best[1] if best else None


def policy_people(policy: ApprovalPolicy, role: str = PolicyMemberRole.APPROVER) -> QuerySet[Any]:
    """Active people who hold *role* in *policy*, directly or through a group (groups expanded)."""
    members = PolicyMember.objects.filter(policy=policy, role=role)
    user_ids = set(members.filter(user__isnull=False).values_list("user_id", flat=True))
    group_ids = list(members.filter(group__isnull=False).values_list("group_id", flat=True))
    users = get_user_model().objects.filter(is_active=True)
    if group_ids:
        # One filter on a subquery (not ``a | b.distinct()``, which Django refuses to combine).
        in_groups = GroupMembership.objects.filter(group_id__in=group_ids).values("user_id")
        return users.filter(Q(pk__in=user_ids) | Q(pk__in=in_groups))
    return users.filter(pk__in=user_ids)


def policy_approver_ids(policy: ApprovalPolicy) -> set[int]:
    return set(policy_people(policy).values_list("pk", flat=True))


def policy_bypasser_ids(policy: ApprovalPolicy) -> set[int]:
    return set(policy_people(policy, PolicyMemberRole.BYPASSER).values_list("pk", flat=True))

"""Approval policies: create, update, delete. Project admins only (``approvals.manage``); every
change is audited with ids only.

Approvers and bypassers are given as ``MemberRef``s: a person of the organization (by e-mail or
user id) or a group of the organization (by slug or public id). Groups count with their current
members toward ``approvals_required``; a group with no members is refused (it could never approve).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import (
    ApprovalPolicy,
    ChangeRequest,
    Enforcement,
    PolicyEnvironment,
    PolicyMember,
    PolicyMemberRole,
    RequestStatus,
)
from approvals.selectors.policies import policy_people
from secrets_app.errors import ValidationFailed
from secrets_app.models import Environment, Group, GroupMembership, OrganizationMembership
from secrets_app.paths import validate_path_glob
from secrets_app.policy.enforcement import require
from secrets_app.selectors.access import ProjectScope

MAX_MEMBERS = 100


@dataclass(frozen=True)
class MemberRef:
    """``kind`` is ``user`` (``ref``: e-mail or numeric id) or ``group`` (``ref``: slug or public id)."""

    kind: str
    ref: str


@dataclass(frozen=True)
class _Resolved:
    users: list[Any]
    groups: list[Group]


def _resolve_members(scope: ProjectScope, refs: Sequence[MemberRef], field: str) -> _Resolved:
    if len(refs) > MAX_MEMBERS:
        raise ValidationFailed(field, f"at most {MAX_MEMBERS} entries")
    organization_id = scope.project.organization_id
    member_ids = set(
        OrganizationMembership.objects.filter(organization_id=organization_id).values_list("user_id", flat=True)
    )
    users: dict[int, Any] = {}
    groups: dict[int, Group] = {}
    user_model = get_user_model()
    for ref in refs:
        text = str(ref.ref).strip()
        if ref.kind == "user":
            query = user_model.objects.filter(is_active=True, pk__in=member_ids)
            user = query.filter(pk=int(text)).first() if text.isdigit() else query.filter(email__iexact=text).first()
            if user is None:
                raise ValidationFailed(field, f"no person '{text}' in this organization")
            users[user.pk] = user
        elif ref.kind == "group":
            found = Group.objects.filter(organization_id=organization_id)
            try:
                group = found.filter(public_id=uuid.UUID(text)).first()
            except ValueError:
                group = found.filter(slug=text).first()
            if group is None:
                raise ValidationFailed(field, f"no group '{text}' in this organization")
            if not GroupMembership.objects.filter(group=group, user__is_active=True).exists():
                raise ValidationFailed(field, f"group '{group.slug}' has no members: it could never approve")
            groups[group.pk] = group
        else:
            raise ValidationFailed(field, "each entry is a 'user' or a 'group'")
    return _Resolved(users=list(users.values()), groups=list(groups.values()))


def _approver_count(resolved: _Resolved) -> int:
    """Distinct active people among the approvers (groups expanded to their current members)."""
    people = {user.pk for user in resolved.users}
    people |= set(
        GroupMembership.objects.filter(group__in=resolved.groups, user__is_active=True).values_list(
            "user_id", flat=True
        )
    )
    return len(people)


def _environments(scope: ProjectScope, slugs: Sequence[str]) -> list[Environment]:
    wanted = list(dict.fromkeys(str(slug) for slug in slugs))
    if not wanted:
        raise ValidationFailed("environments", "name at least one environment")
    found = {env.slug: env for env in Environment.objects.filter(project=scope.project, slug__in=wanted)}
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise ValidationFailed("environments", f"unknown environment(s): {', '.join(missing)}")
    return [found[slug] for slug in wanted]


def _check_numbers(approvals_required: int, approvers: int, request_ttl_hours: int, max_access_hours: int) -> None:
    if approvers < 1:
        raise ValidationFailed("approvers", "name at least one approver (a person, or a group with members)")
    if approvals_required < 1:
        raise ValidationFailed("approvalsRequired", "must be at least 1")
    if approvals_required > approvers:
        raise ValidationFailed(
            "approvalsRequired", f"must be at most the number of approvers ({approvers}), or nobody could merge"
        )
    if not 1 <= request_ttl_hours <= 24 * 90:
        raise ValidationFailed("requestTtlHours", "must be between 1 and 2160 hours")
    if not 1 <= max_access_hours <= 24 * 30:
        raise ValidationFailed("maxAccessHours", "must be between 1 and 720 hours")


def _store_members(policy: ApprovalPolicy, role: str, resolved: _Resolved) -> None:
    PolicyMember.objects.filter(policy=policy, role=role).delete()
    PolicyMember.objects.bulk_create(
        [PolicyMember(policy=policy, role=role, user=user) for user in resolved.users]
        + [PolicyMember(policy=policy, role=role, group=group) for group in resolved.groups]
    )


def _store_environments(policy: ApprovalPolicy, environments: list[Environment]) -> None:
    """Replace the policy's environments; the unique (environment, path) row refuses a duplicate."""
    PolicyEnvironment.objects.filter(policy=policy).delete()
    for env in environments:
        clash = PolicyEnvironment.objects.filter(environment=env, path=policy.path).exclude(policy=policy).exists()
        if clash:
            raise ValidationFailed(
                "path", f"A policy for path '{policy.path}' already exists in environment '{env.slug}'"
            )
        try:
            with transaction.atomic():
                PolicyEnvironment.objects.create(policy=policy, environment=env, path=policy.path)
        except IntegrityError:  # a concurrent writer took the place between the check and the insert
            raise ValidationFailed(
                "path", f"A policy for path '{policy.path}' already exists in environment '{env.slug}'"
            ) from None


def _validate_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not 1 <= len(cleaned) <= 120:
        raise ValidationFailed("name", "must be 1-120 characters")
    return cleaned


def _audit(scope: ProjectScope, action: str, policy: ApprovalPolicy, **metadata: Any) -> None:
    scope.audit(
        action,
        path=policy.path,
        resource_type="approval_policy",
        resource_id=str(policy.public_id),
        metadata={"policy_id": str(policy.public_id), **metadata},
    )


def approval_policy_create(
    *,
    scope: ProjectScope,
    name: str,
    environments: Sequence[str],
    path: str = "/**",
    approvers: Sequence[MemberRef],
    bypassers: Sequence[MemberRef] = (),
    approvals_required: int = 1,
    enforcement: str = Enforcement.HARD,
    allow_self_approval: bool = False,
    applies_to_identities: bool = True,
    governs_changes: bool = True,
    governs_access: bool = True,
    request_ttl_hours: int = 7 * 24,
    max_access_hours: int = 8,
) -> ApprovalPolicy:
    """Create a policy. Raises PermissionDenied (403) unless the caller may ``approvals.manage``,
    ValidationFailed (400) naming the field otherwise (a duplicate env+path names ``path``)."""
    require(scope, "approvals.manage", resource="approval_policy")
    name = _validate_name(name)
    glob = validate_path_glob(path or "/**")
    envs = _environments(scope, environments)
    if enforcement not in Enforcement.values:
        raise ValidationFailed("enforcement", "must be 'hard' or 'soft'")
    approver_set = _resolve_members(scope, approvers, "approvers")
    bypasser_set = _resolve_members(scope, bypassers, "bypassers")
    if enforcement == Enforcement.HARD and (bypasser_set.users or bypasser_set.groups):
        raise ValidationFailed("bypassers", "only a soft policy has bypassers (a hard one cannot be bypassed)")
    _check_numbers(approvals_required, _approver_count(approver_set), request_ttl_hours, max_access_hours)
    if ApprovalPolicy.objects.filter(project=scope.project, name=name).exists():
        raise ValidationFailed("name", f"A policy named '{name}' already exists in this project")
    with transaction.atomic():
        policy = ApprovalPolicy.objects.create(
            project=scope.project,
            name=name,
            path=glob,
            approvals_required=approvals_required,
            enforcement=enforcement,
            allow_self_approval=allow_self_approval,
            applies_to_identities=applies_to_identities,
            governs_changes=governs_changes,
            governs_access=governs_access,
            request_ttl_hours=request_ttl_hours,
            max_access_hours=max_access_hours,
            created_by=scope.principal.user if scope.principal.is_user else None,
        )
        _store_environments(policy, envs)
        _store_members(policy, PolicyMemberRole.APPROVER, approver_set)
        _store_members(policy, PolicyMemberRole.BYPASSER, bypasser_set)
        _audit(scope, "approval_policy.created", policy, environments=[env.slug for env in envs])
    return policy


_UNCHANGED: Any = object()


def approval_policy_update(
    *,
    scope: ProjectScope,
    policy: ApprovalPolicy,
    name: str | None = None,
    environments: Sequence[str] | None = None,
    path: str | None = None,
    approvers: Sequence[MemberRef] | None = None,
    bypassers: Sequence[MemberRef] | None = None,
    approvals_required: int | None = None,
    enforcement: str | None = None,
    allow_self_approval: bool | None = None,
    applies_to_identities: bool | None = None,
    governs_changes: bool | None = None,
    governs_access: bool | None = None,
    request_ttl_hours: int | None = None,
    max_access_hours: int | None = None,
) -> ApprovalPolicy:
    """Change the fields given (None leaves a field as it is). The same checks as create, on the
    resulting policy. Open change requests keep their policy and are judged by its new rules."""
    require(scope, "approvals.manage", resource=str(policy.public_id))
    if policy.project_id != scope.project.pk:
        raise ValidationFailed("policy", "belongs to another project")
    changed: list[str] = []
    with transaction.atomic():
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        if name is not None and _validate_name(name) != policy.name:
            cleaned = _validate_name(name)
            if ApprovalPolicy.objects.filter(project=scope.project, name=cleaned).exclude(pk=policy.pk).exists():
                raise ValidationFailed("name", f"A policy named '{cleaned}' already exists in this project")
            policy.name = cleaned
            changed.append("name")
        if path is not None and validate_path_glob(path) != policy.path:
            policy.path = validate_path_glob(path)
            changed.append("path")
        for field, value in (
            ("enforcement", enforcement),
            ("allow_self_approval", allow_self_approval),
            ("applies_to_identities", applies_to_identities),
            ("governs_changes", governs_changes),
            ("governs_access", governs_access),
            ("request_ttl_hours", request_ttl_hours),
            ("max_access_hours", max_access_hours),
            ("approvals_required", approvals_required),
        ):
            if value is not None and getattr(policy, field) != value:
                setattr(policy, field, value)
                changed.append(field)
        if policy.enforcement not in Enforcement.values:
            raise ValidationFailed("enforcement", "must be 'hard' or 'soft'")
        if approvers is not None:
            approver_set = _resolve_members(scope, approvers, "approvers")
            _store_members(policy, PolicyMemberRole.APPROVER, approver_set)
            changed.append("approvers")
        if bypassers is not None:
            _store_members(policy, PolicyMemberRole.BYPASSER, _resolve_members(scope, bypassers, "bypassers"))
            changed.append("bypassers")
        if (
            policy.enforcement == Enforcement.HARD
            and PolicyMember.objects.filter(policy=policy, role=PolicyMemberRole.BYPASSER).exists()
        ):
            raise ValidationFailed("bypassers", "only a soft policy has bypassers (a hard one cannot be bypassed)")
        _check_numbers(
            policy.approvals_required,
            policy_people(policy).count(),
            policy.request_ttl_hours,
            policy.max_access_hours,
        )
        if environments is not None or "path" in changed:
            envs = (
                _environments(scope, environments)
                if environments is not None
                else list(Environment.objects.filter(policy_environments_of(policy)))
            )
            _store_environments(policy, envs)
            if environments is not None:
                changed.append("environments")
        policy.save()
        _audit(scope, "approval_policy.updated", policy, changed=sorted(set(changed)))
    return policy


def policy_environments_of(policy: ApprovalPolicy) -> Any:
    from django.db.models import Q

    return Q(pk__in=PolicyEnvironment.objects.filter(policy=policy).values("environment_id"))


def approval_policy_delete(*, scope: ProjectScope, policy: ApprovalPolicy) -> int:
    """Delete the policy. Its open change requests are closed (reason "policy deleted"), never
    merged. Returns how many were closed."""
    require(scope, "approvals.manage", resource=str(policy.public_id))
    from approvals.notify import notify_follow_up

    with transaction.atomic():
        open_requests = list(ChangeRequest.objects.select_for_update().filter(policy=policy, status=RequestStatus.OPEN))
        now = timezone.now()
        for request in open_requests:
            request.status = RequestStatus.CLOSED
            request.settled_at = now
            request.settled_by = scope.principal.user if scope.principal.is_user else None
            request.settled_reason = "policy deleted"
            request.save(update_fields=["status", "settled_at", "settled_by", "settled_reason", "updated_at"])
        _audit(
            scope,
            "approval_policy.deleted",
            policy,
            closed_requests=[str(request.public_id) for request in open_requests],
        )
        policy.delete()
        for request in open_requests:
            transaction.on_commit(
                functools.partial(notify_follow_up, request, "closed: its approval policy was deleted")
            )
    return len(open_requests)

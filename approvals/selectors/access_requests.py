"""Reads of access requests, and who may see or act on them.

Who sees an access request: its requester, the approvers of its policy, and project admins
(organization admins included). Anyone else is answered as if it did not exist (404), and people
outside the project's organization cannot even learn that the project exists.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from approvals.models import AccessRequest, AccessRequestStatus, ApprovalPolicy, PolicyMember, PolicyMemberRole
from approvals.selectors.policies import policy_approver_ids, policy_for
from secrets_app.errors import Conflict, NotFound
from secrets_app.models import Environment, OrganizationMembership, Project
from secrets_app.policy.globs import glob_subsumes
from secrets_app.principals import Principal
from secrets_app.selectors.access import is_org_member, project_access

READ_ACTIONS: tuple[str, ...] = ("secrets.read", "secrets.read_value", "folders.read")
WRITE_ACTIONS: tuple[str, ...] = ("secrets.create", "secrets.edit", "secrets.delete")
ACCESS_LEVELS = ("read", "write")


def access_actions(access: list[str]) -> tuple[str, ...]:
    """The actions a request's named access sets stand for (write includes read)."""
    actions = list(READ_ACTIONS)
    if "write" in access:
        actions += WRITE_ACTIONS
    return tuple(actions)


def access_rules(*, environment: str, path: str, access: list[str]) -> list[dict[str, Any]]:
    """The temporary grant's rules for a request: each action, in one environment, at the path glob."""
    return [
        {"effect": "allow", "action": action, "environments": [environment], "path": path, "tags": []}
        for action in access_actions(access)
    ]


def access_policy_for(*, project: Project, environment: Environment, path: str) -> ApprovalPolicy | None:
    """The policy governing access requests for *path* (a glob) in *environment*, or None. The
    policy's own path must cover the whole glob asked for: a policy on ``/payments/**`` governs
    ``/payments/stripe`` but not ``/**``."""
    policy = policy_for(project_id=project.pk, environment_id=environment.pk, paths=[path], governs="access")
    if policy is None or not glob_subsumes(policy.path, path):
        return None
    return policy


def project_for_requester(principal: Principal, project_ref: str) -> Project:
    """A project of an organization the person belongs to, by slug or public id, whether or not they
    are a member of the project (asking for access is how one gets in). NotFound otherwise, the
    same answer as for a project that does not exist."""
    if principal.user_id is None:
        raise NotFound("Project not found")
    projects = Project.objects.select_related("organization")
    if not principal.is_platform_superuser:
        org_ids = OrganizationMembership.objects.filter(user_id=principal.user_id).values("organization_id")
        projects = projects.filter(organization_id__in=org_ids)
    try:
        matches = list(projects.filter(public_id=uuid.UUID(str(project_ref))))
    except ValueError:
        matches = list(projects.filter(slug=project_ref))
    if not matches:
        raise NotFound("Project not found")
    if len(matches) > 1:
        raise Conflict("Several of your organizations have a project with this slug; use the project id")
    return matches[0]


def is_project_admin(principal: Principal, project: Project) -> bool:
    return project_access(principal, project).is_admin


def _approver_policy_ids(user_id: int) -> QuerySet[Any]:
    """Policies where the person is an approver, directly or through a group."""
    return (
        PolicyMember.objects.filter(role=PolicyMemberRole.APPROVER)
        .filter(Q(user_id=user_id) | Q(group__memberships__user_id=user_id))
        .values("policy_id")
    )


def access_requests_visible(principal: Principal, project: Project) -> QuerySet[AccessRequest]:
    """The project's access requests the principal may see (see the module docstring)."""
    requests = AccessRequest.objects.filter(project=project).select_related(
        "requester", "environment", "policy", "grant", "decided_by"
    )
    if principal.user_id is None:
        return requests.none()
    if is_project_admin(principal, project):
        return requests
    return requests.filter(Q(requester_id=principal.user_id) | Q(policy_id__in=_approver_policy_ids(principal.user_id)))


def access_request_get(principal: Principal, project: Project, public_id: str) -> AccessRequest:
    """One visible request; NotFound when missing, invisible or not a UUID."""
    try:
        wanted = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("Access request not found") from exc
    found = access_requests_visible(principal, project).filter(public_id=wanted).first()
    if found is None:
        raise NotFound("Access request not found")
    return found


def access_requests_of(user: Any) -> QuerySet[AccessRequest]:
    """The person's own requests, newest first (the "My access" page)."""
    return AccessRequest.objects.filter(requester_id=user.pk).select_related(
        "project", "environment", "grant", "policy"
    )


def access_requests_to_review(user: Any) -> QuerySet[AccessRequest]:
    """Pending, unexpired requests the person is an approver for and has not reviewed yet (not
    their own unless the policy allows self-approval), oldest first: the inbox."""
    now = timezone.now()
    return (
        AccessRequest.objects.filter(
            status=AccessRequestStatus.PENDING,
            expires_at__gt=now,
            policy_id__in=_approver_policy_ids(user.pk),
            requester__is_active=True,
        )
        .exclude(reviews__reviewer_id=user.pk)
        .exclude(Q(requester_id=user.pk) & Q(policy__allow_self_approval=False))
        .filter(project__organization__memberships__user_id=user.pk)
        .select_related("project", "environment", "requester", "policy")
        .distinct()
        .order_by("created_at", "id")
    )


def access_requests_to_review_count(user: Any) -> int:
    return access_requests_to_review(user).count()


def may_review(request: AccessRequest, user_id: int) -> bool:
    return request.policy is not None and user_id in policy_approver_ids(request.policy)


def requestable_here(principal: Principal, project: Project, environment: str, path: str) -> bool:
    """Whether to offer "Request access" at this place: the person belongs to the project's
    organization and a policy governs access requests there. Never True for outsiders."""
    if principal.user_id is None or not is_org_member(principal, project.organization_id):
        return False
    env = Environment.objects.filter(project=project, slug=environment).first()
    return env is not None and access_policy_for(project=project, environment=env, path=path) is not None

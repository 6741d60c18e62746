"""Access requests: a person asks for time-boxed access to an env+path; policy approvers decide.

Lifecycle (``AccessRequestStatus``): ``pending`` → ``approved`` (a ``TemporaryAccessGrant`` exists,
enforced by the permission check itself until its end time) | ``rejected`` (any rejection ends it)
| ``cancelled`` (by the requester) | ``expired`` (nobody decided by ``expires_at``). Under a
**soft** policy a bypasser may break the glass: the grant at once, every approver alerted.

Rules (Infisical's, with our stricter defaults):

* a policy governing access must cover the env+path asked for; the duration is at most the
  policy's ``max_access_hours``; a reason of at least 10 characters is required;
* an equal pending request, or an open grant that already covers it, refuses a duplicate;
* a reviewer must be an approver of the policy **and hold the requested access themselves**;
  self-approval only where the policy allows it; at ``approvals_required`` distinct approvers the
  grant is created in the same transaction as the approval.

Every step is audited (``access_request.*``) with ids, environment and path only: the reason and
comments are free text and stay in our tables.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals import notify_access
from approvals.models import (
    AccessRequest,
    AccessRequestStatus,
    AccessReview,
    Enforcement,
    RequestComment,
    ReviewStatus,
)
from approvals.selectors.access_requests import (
    ACCESS_LEVELS,
    access_policy_for,
    access_rules,
    is_project_admin,
)
from approvals.selectors.policies import policy_approver_ids, policy_bypasser_ids, policy_people
from audit.models import ActorType, Outcome
from audit.noise import audit_denial_record
from audit.services import AuditActor, audit_record
from secrets_app.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from secrets_app.models import Environment, Project, TemporaryAccessGrant
from secrets_app.paths import validate_path_glob
from secrets_app.policy import Rule, grants_beyond
from secrets_app.principals import Principal
from secrets_app.selectors.access import open_grants, project_access, temporary_grant_rules
from secrets_app.services.temporary_grants import temporary_grant_create, temporary_grant_revoke

MIN_REASON = 10
MAX_REASON = 1000
MIN_DURATION_MINUTES = 5
SYSTEM_ACTOR = AuditActor(type=ActorType.SYSTEM, id="approvals", label="system:approvals")


class NoAccessPolicy(DomainError):
    """Nobody is set up to approve access at this place."""

    status = 400
    code = "no_access_policy"


# --- helpers ----------------------------------------------------------------------------------
def _audit(
    request: AccessRequest,
    action: str,
    *,
    actor: AuditActor,
    outcome: str = Outcome.ALLOW,
    **metadata: Any,
) -> None:
    audit_record(
        action=action,
        actor=actor,
        outcome=outcome,
        organization_id=request.project.organization_id,
        project_id=request.project_id,
        environment=request.environment.slug,
        path=request.path,
        resource_type="access_request",
        resource_id=str(request.public_id),
        metadata={
            "requester": f"user:{request.requester_id}",
            "access": list(request.access),
            "duration_minutes": request.duration_minutes,
            "policy": str(request.policy.public_id) if request.policy else None,
            **metadata,
        },
    )


def _actor(principal: Principal, project: Project) -> AuditActor:
    return principal.audit_actor(project_access(principal, project).role)


def _deny(principal: Principal, request: AccessRequest, requested: str, message: str) -> PermissionDenied:
    """Record the refusal as ``permission.denied`` (ids only; repeats within the denial window are
    counted and summarised, audit/noise.py) and return the error to raise."""
    audit_denial_record(
        actor=_actor(principal, request.project),
        organization_id=request.project.organization_id,
        project_id=request.project_id,
        environment=request.environment.slug,
        path=request.path,
        resource_type="access_request",
        resource_id=str(request.public_id),
        metadata={"requested_action": requested},
    )
    return PermissionDenied(message)


def _clean_reason(reason: str, field: str = "reason") -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise ValidationFailed(field, f"say why, in at least {MIN_REASON} characters")
    if len(text) > MAX_REASON:
        raise ValidationFailed(field, f"at most {MAX_REASON} characters")
    return text


def _clean_access(access: list[str]) -> list[str]:
    wanted = {str(level) for level in access or []}
    if not wanted or not wanted <= set(ACCESS_LEVELS):
        raise ValidationFailed("access", "choose read, or read and write")
    return ["read", "write"] if "write" in wanted else ["read"]


def _candidate(request: AccessRequest) -> list[Rule]:
    rules = access_rules(environment=request.environment.slug, path=request.path, access=request.access)
    return [Rule(effect="allow", action=r["action"], environments=frozenset(r["environments"]), path=r["path"])
            for r in rules]  # fmt: skip


def _locked(request: AccessRequest) -> AccessRequest:
    return (
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("project", "environment", "policy", "requester")
        .get(pk=request.pk)
    )


def _require_pending(request: AccessRequest) -> None:
    if request.status != AccessRequestStatus.PENDING:
        raise Conflict(f"This request is already {request.status}")
    if request.expires_at <= timezone.now():
        raise Conflict("This request has expired; ask again")


def _grant(request: AccessRequest, *, created_by: Any) -> TemporaryAccessGrant:
    now = timezone.now()
    return temporary_grant_create(
        project=request.project,
        user=request.requester,
        rules=access_rules(environment=request.environment.slug, path=request.path, access=request.access),
        starts_at=now,
        ends_at=now + datetime.timedelta(minutes=request.duration_minutes),
        reason=request.reason,
        source=f"access_request:{request.public_id}",
        created_by=created_by,
    )


# --- create -----------------------------------------------------------------------------------
def access_request_create(
    *,
    principal: Principal,
    project: Project,
    environment: str,
    path: str,
    access: list[str],
    duration_minutes: int,
    reason: str,
) -> AccessRequest:
    """Ask for *access* (``["read"]`` or ``["read", "write"]``) at *environment* + *path* (a folder
    path or glob) for *duration_minutes*. People only, of the project's organization (the caller
    resolves *project* with ``project_for_requester``). Raises NoAccessPolicy (400) where no policy
    governs access, ValidationFailed naming ``environment``, ``path``, ``access``, ``duration`` or
    ``reason``, Conflict for a duplicate or access already held. Notifies the approvers."""
    if principal.user_id is None:
        raise PermissionDenied("Only people can request access; give a machine identity a role instead")
    env = Environment.objects.filter(project=project, slug=(environment or "").strip()).first()
    if env is None:
        raise ValidationFailed("environment", "not found in this project")
    path = validate_path_glob(path or "/")
    levels = _clean_access(access)
    reason = _clean_reason(reason)
    policy = access_policy_for(project=project, environment=env, path=path)
    if policy is None:
        raise NoAccessPolicy(
            f"No approval policy covers access requests for {env.slug}:{path}; ask a project admin",
            fields={"path": ["no approval policy covers access requests here"]},
        )
    try:
        minutes = int(duration_minutes)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("duration", "a number of minutes") from exc
    if minutes < MIN_DURATION_MINUTES:
        raise ValidationFailed("duration", f"at least {MIN_DURATION_MINUTES} minutes")
    if minutes > policy.max_access_hours * 60:
        raise ValidationFailed("duration", f"at most {policy.max_access_hours} hours under the policy {policy.name!r}")
    user = get_user_model().objects.get(pk=principal.user_id)
    candidate = [
        Rule(effect="allow", action=r["action"], environments=frozenset(r["environments"]), path=r["path"])
        for r in access_rules(environment=env.slug, path=path, access=levels)
    ]
    with transaction.atomic():
        # One requester's creates one after another: the duplicate checks below cannot race.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if AccessRequest.objects.filter(
            project=project,
            requester=user,
            environment=env,
            path=path,
            status=AccessRequestStatus.PENDING,
            expires_at__gt=timezone.now(),
            access=levels,
        ).exists():
            raise Conflict("You already have an equal request pending")
        grant_rules = temporary_grant_rules(open_grants(principal).filter(project=project))
        if grant_rules and not grants_beyond(candidate, grant_rules):
            raise Conflict("You already hold an open grant covering this access; see My access")
        if not grants_beyond(candidate, project_access(principal, project).rules):
            raise Conflict("You already have this access")
        request = AccessRequest.objects.create(
            project=project,
            policy=policy,
            requester=user,
            environment=env,
            path=path,
            access=levels,
            duration_minutes=minutes,
            reason=reason,
            expires_at=timezone.now() + datetime.timedelta(hours=policy.request_ttl_hours),
        )
        _audit(request, "access_request.created", actor=_actor(principal, project))
        approvers = (
            policy_people(policy).exclude(pk=user.pk) if not policy.allow_self_approval else policy_people(policy)
        )
        notify_access.access_request_opened(request, list(approvers))
    return request


# --- review -----------------------------------------------------------------------------------
def access_request_review(
    *, principal: Principal, request: AccessRequest, status: str, comment: str = ""
) -> AccessRequest:
    """Record *principal*'s verdict (``approved`` | ``rejected``). Only approvers of the policy who
    hold the requested access themselves may review; not one's own request unless the policy allows
    it. A rejection ends the request. At quorum (``approvals_required`` distinct approvers) the
    grant is created, starting now, in the same transaction. Returns the request as it now stands."""
    if status not in ReviewStatus.values:
        raise ValidationFailed("status", "approved or rejected")
    comment = (comment or "").strip()
    if len(comment) > MAX_REASON:
        raise ValidationFailed("comment", f"at most {MAX_REASON} characters")
    if principal.user_id is None:
        raise PermissionDenied("Only people review access requests")
    # Refusals are decided (and their audit rows committed) before the transaction of the review.
    policy = request.policy
    if policy is None:
        raise Conflict("The policy of this request was deleted; ask again")
    if principal.user_id not in policy_approver_ids(policy):
        raise _deny(principal, request, "access_request.review", "Only approvers of the policy can review")
    if principal.user_id == request.requester_id and not policy.allow_self_approval:
        raise _deny(principal, request, "access_request.review", "You cannot review your own request")
    missing = grants_beyond(_candidate(request), project_access(principal, request.project).rules)
    if missing:
        raise _deny(
            principal,
            request,
            "access_request.review",
            "You can only review access you hold yourself: " + "; ".join(missing),
        )
    with transaction.atomic():
        request = _locked(request)
        _require_pending(request)
        AccessReview.objects.update_or_create(
            request=request, reviewer_id=principal.user_id, defaults={"status": status, "comment": comment}
        )
        actor = _actor(principal, request.project)
        _audit(request, "access_request.reviewed", actor=actor, status=status)
        now = timezone.now()
        if status == ReviewStatus.REJECTED:
            request.status = AccessRequestStatus.REJECTED
            request.decided_at, request.decided_by_id = now, principal.user_id
            request.save(update_fields=["status", "decided_at", "decided_by"])
            _audit(request, "access_request.rejected", actor=actor)
            notify_access.access_request_settled(request, f"Rejected by {principal.label}")
            return request
        approver_ids = policy_approver_ids(policy)
        approved_by = set(
            request.reviews.filter(status=ReviewStatus.APPROVED, reviewer_id__in=approver_ids).values_list(
                "reviewer_id", flat=True
            )
        )
        if not policy.allow_self_approval:
            approved_by.discard(request.requester_id)
        if len(approved_by) < policy.approvals_required:
            return request
        grant = _grant(request, created_by=get_user_model().objects.get(pk=principal.user_id))
        request.status = AccessRequestStatus.APPROVED
        request.grant = grant
        request.decided_at, request.decided_by_id = now, principal.user_id
        request.save(update_fields=["status", "grant", "decided_at", "decided_by"])
        _audit(
            request,
            "access_request.approved",
            actor=actor,
            grant=grant.pk,
            approvers=[f"user:{pk}" for pk in sorted(approved_by)],
            ends_at=grant.ends_at.isoformat(),
        )
        notify_access.access_request_settled(request, f"Approved: access until {grant.ends_at:%Y-%m-%d %H:%M} UTC")
    return request


# --- break glass ------------------------------------------------------------------------------
def access_request_break_glass(*, principal: Principal, request: AccessRequest, reason: str) -> AccessRequest:
    """Under a **soft** policy, the requester (a bypasser of the policy) takes the access now,
    without quorum, giving a reason (at least 10 characters; kept in our database as a comment,
    never in audit rows or messages). Every approver is alerted at once (severity critical)."""
    reason = _clean_reason(reason, "breakGlassReason")
    if principal.user_id != request.requester_id:
        raise _deny(principal, request, "access_request.break_glass", "Only the requester can break the glass")
    policy = request.policy
    if policy is None:
        raise Conflict("The policy of this request was deleted; ask again")
    if policy.enforcement != Enforcement.SOFT:
        raise _deny(
            principal,
            request,
            "access_request.break_glass",
            "This policy is hard-enforced: access needs the approvals, there is no break-glass",
        )
    if principal.user_id not in policy_bypasser_ids(policy):
        raise _deny(principal, request, "access_request.break_glass", "You are not allowed to break the glass here")
    with transaction.atomic():
        request = _locked(request)
        _require_pending(request)
        requester = request.requester
        RequestComment.objects.create(access_request=request, author=requester, body=f"Break-glass: {reason}")
        grant = _grant(request, created_by=requester)
        now = timezone.now()
        request.status = AccessRequestStatus.APPROVED
        request.break_glass = True
        request.grant = grant
        request.decided_at, request.decided_by = now, requester
        request.save(update_fields=["status", "break_glass", "grant", "decided_at", "decided_by"])
        _audit(
            request,
            "access_request.break_glass",
            actor=_actor(principal, request.project),
            grant=grant.pk,
            ends_at=grant.ends_at.isoformat(),
        )
        notify_access.access_request_break_glass(request, list(policy_people(policy).exclude(pk=requester.pk)))
    return request


def access_request_create_break_glass(
    *,
    principal: Principal,
    project: Project,
    environment: str,
    path: str,
    access: list[str],
    duration_minutes: int,
    reason: str,
) -> AccessRequest:
    """Ask and break the glass in one step (an incident): all or nothing. A person who may not
    break the glass here is refused (audited) before anything is created."""
    env = Environment.objects.filter(project=project, slug=(environment or "").strip()).first()
    policy = access_policy_for(project=project, environment=env, path=validate_path_glob(path or "/")) if env else None
    if policy is not None and (
        policy.enforcement != Enforcement.SOFT or principal.user_id not in policy_bypasser_ids(policy)
    ):
        audit_record(
            action="permission.denied",
            actor=_actor(principal, project),
            outcome=Outcome.DENY,
            organization_id=project.organization_id,
            project_id=project.pk,
            environment=env.slug if env else "",
            path=path,
            resource_type="access_request",
            metadata={"requested_action": "access_request.break_glass"},
        )
        if policy.enforcement != Enforcement.SOFT:
            raise PermissionDenied("This policy is hard-enforced: access needs the approvals, there is no break-glass")
        raise PermissionDenied("You are not allowed to break the glass here")
    with transaction.atomic():
        request = access_request_create(
            principal=principal,
            project=project,
            environment=environment,
            path=path,
            access=access,
            duration_minutes=duration_minutes,
            reason=reason,
        )
        return access_request_break_glass(principal=principal, request=request, reason=reason)


# --- cancel and revoke ------------------------------------------------------------------------
def access_request_cancel(*, principal: Principal, request: AccessRequest) -> AccessRequest:
    """The requester withdraws a pending request."""
    if principal.user_id != request.requester_id:
        raise _deny(principal, request, "access_request.cancel", "Only the requester can cancel a request")
    with transaction.atomic():
        request = _locked(request)
        if request.status != AccessRequestStatus.PENDING:
            raise Conflict(f"This request is already {request.status}")
        request.status = AccessRequestStatus.CANCELLED
        request.decided_at, request.decided_by_id = timezone.now(), principal.user_id
        request.save(update_fields=["status", "decided_at", "decided_by"])
        _audit(request, "access_request.cancelled", actor=_actor(principal, request.project))
        notify_access.access_request_settled(request, "Cancelled by the requester")
    return request


def access_grant_revoke_early(*, principal: Principal, request: AccessRequest) -> AccessRequest:
    """End the grant of an approved request now (``access.revoked``): project admins and the
    policy's approvers, and the requester giving it back. Conflict when no grant is open."""
    user_id = principal.user_id
    if user_id is None or not (
        user_id == request.requester_id
        or is_project_admin(principal, request.project)
        or (request.policy is not None and user_id in policy_approver_ids(request.policy))
    ):
        raise _deny(principal, request, "access.revoke", "Only project admins and approvers can revoke access")
    grant = request.grant
    if grant is None or grant.revoked_at is not None or grant.ends_at <= timezone.now():
        raise Conflict("This request holds no open grant")
    with transaction.atomic():
        temporary_grant_revoke(grant=grant, by=get_user_model().objects.get(pk=user_id))
        notify_access.access_request_settled(request, f"Access revoked early by {principal.label}")
    request.refresh_from_db()
    return request


# --- beat ---------------------------------------------------------------------------------------
def access_requests_expire() -> int:
    """Beat: pending requests past ``expires_at`` become ``expired`` (compare-and-set, so a run
    racing a review never expires an approved request). Returns how many."""
    now = timezone.now()
    expired = 0
    due = AccessRequest.objects.filter(status=AccessRequestStatus.PENDING, expires_at__lte=now).select_related(
        "project", "environment", "policy"
    )
    for request in due[:500]:
        with transaction.atomic():
            claimed = AccessRequest.objects.filter(pk=request.pk, status=AccessRequestStatus.PENDING).update(
                status=AccessRequestStatus.EXPIRED, decided_at=now
            )
            if claimed != 1:
                continue
            request.status = AccessRequestStatus.EXPIRED
            _audit(request, "access_request.expired", actor=SYSTEM_ACTOR)
            notify_access.access_request_settled(request, "Expired: nobody decided in time")
            expired += 1
    return expired


def access_requests_remind() -> int:
    """Beat: remind the approvers who have not reviewed a request pending for longer than
    ``STRONGROOM_APPROVAL_REMINDER_HOURS`` (default 24), at most once per that period per request.
    Returns how many requests were reminded about."""
    hours = int(getattr(settings, "STRONGROOM_APPROVAL_REMINDER_HOURS", 24))
    now = timezone.now()
    cutoff = now - datetime.timedelta(hours=hours)
    due = AccessRequest.objects.filter(
        status=AccessRequestStatus.PENDING, expires_at__gt=now, created_at__lte=cutoff, policy__isnull=False
    ).filter(Q(reminded_at__isnull=True) | Q(reminded_at__lte=cutoff))
    reminded = 0
    for request in due.select_related("project", "environment", "policy", "requester")[:500]:
        with transaction.atomic():
            claimed = (
                AccessRequest.objects.filter(pk=request.pk, status=AccessRequestStatus.PENDING)
                .filter(Q(reminded_at__isnull=True) | Q(reminded_at__lte=cutoff))
                .update(reminded_at=now)
            )
            if claimed != 1:
                continue
            assert request.policy is not None
            reviewed = request.reviews.values_list("reviewer_id", flat=True)
            people = policy_people(request.policy).exclude(pk__in=list(reviewed)).exclude(pk=request.requester_id)
            if people.exists():
                notify_access.access_request_reminder(request, list(people))
                reminded += 1
    return reminded

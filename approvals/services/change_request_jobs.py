"""Beat-driven housekeeping of change requests: expiry and reminders. Idempotent; each row is
claimed with a compare-and-set so two beat runs never act twice on one request."""

from __future__ import annotations

import datetime
import functools

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.models import ChangeRequest, ChangeReview, RequestStatus
from approvals.selectors.policies import policy_people
from audit.services import SYSTEM_ACTOR, audit_record


def change_requests_expire(*, now: datetime.datetime | None = None) -> int:
    """Open requests past ``expires_at`` become ``expired`` (audited ``change_request.expired``
    as the system; the people told about them get a follow-up). Returns how many expired."""
    from approvals.notify import notify_follow_up

    moment = now or timezone.now()
    expired = 0
    due = ChangeRequest.objects.filter(status=RequestStatus.OPEN, expires_at__lte=moment).select_related(
        "project", "environment"
    )
    for request in due:
        with transaction.atomic():
            claimed = ChangeRequest.objects.filter(pk=request.pk, status=RequestStatus.OPEN).update(
                status=RequestStatus.EXPIRED, settled_at=moment, settled_reason="expired", updated_at=moment
            )
            if claimed != 1:
                continue
            audit_record(
                action="change_request.expired",
                actor=SYSTEM_ACTOR,
                organization_id=request.project.organization_id,
                project_id=request.project_id,
                environment=request.environment.slug,
                path=request.path,
                resource_type="change_request",
                resource_id=str(request.public_id),
                metadata={"request_id": str(request.public_id), "slug": request.slug},
            )
            transaction.on_commit(functools.partial(notify_follow_up, request, "expired without being merged"))
            expired += 1
    return expired


def change_request_reminders_send(*, now: datetime.datetime | None = None) -> int:
    """Remind approvers who have not reviewed the current revision of a request open for longer
    than ``STRONGROOM_APPROVAL_REMINDER_HOURS``; at most once per interval per request. Returns
    how many requests were reminded about."""
    from approvals.notify import notify_reminder

    moment = now or timezone.now()
    interval = datetime.timedelta(hours=getattr(settings, "STRONGROOM_APPROVAL_REMINDER_HOURS", 24))
    due = ChangeRequest.objects.filter(
        Q(reminded_at__isnull=True) | Q(reminded_at__lte=moment - interval),
        status=RequestStatus.OPEN,
        created_at__lte=moment - interval,
        expires_at__gt=moment,
        policy__isnull=False,
    ).select_related("project", "environment", "policy")
    sent = 0
    for request in due:
        previous = request.reminded_at
        claimed = (
            ChangeRequest.objects.filter(pk=request.pk, status=RequestStatus.OPEN, reminded_at=previous)
            if previous is not None
            else ChangeRequest.objects.filter(pk=request.pk, status=RequestStatus.OPEN, reminded_at__isnull=True)
        ).update(reminded_at=moment)
        if claimed != 1:
            continue
        assert request.policy is not None
        reviewed = set(
            ChangeReview.objects.filter(request=request, revision=request.revision).values_list(
                "reviewer_id", flat=True
            )
        )
        people = [
            person
            for person in policy_people(request.policy)
            if person.pk not in reviewed
            and (request.policy.allow_self_approval or person.pk != request.committer_user_id)
        ]
        if people:
            notify_reminder(request, people)
            sent += 1
    return sent

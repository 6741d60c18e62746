"""What access requests tell people, through the notifications app.

Messages are links, not actions: the facts (project, environment, path, access, duration,
requester, reason, expiry) and a signed "View request" link to the request page. The reason is the
requester's own text; each channel escapes it. Nothing here ever fails the workflow step that
triggered it: a notification that cannot be recorded is logged by kind only.

Called inside the step's transaction, so the notification rows commit with it (and the deliveries
are queued on commit by the notifications app).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from approvals.links import link_for_request
from approvals.notify import send_request_message
from notifications.services import Fact, Message, notification_follow_up

if TYPE_CHECKING:
    from approvals.models import AccessRequest

logger = logging.getLogger("strongroom.approvals")

OPENED = "approvals.access_request.opened"
BREAK_GLASS = "approvals.access_request.break_glass"
REMINDER = "approvals.access_request.reminder"


def subject_ref(request: AccessRequest) -> str:
    return f"access_request:{request.public_id}"


def request_url(request: AccessRequest) -> str:
    """Absolute URL of the request page."""
    path = reverse("approvals:access_request_detail", args=[request.project.slug, str(request.public_id)])
    return settings.SITE_URL.rstrip("/") + path


def _link_for(request: AccessRequest) -> Any:
    return link_for_request("access", request.public_id)


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _facts(request: AccessRequest) -> tuple[Any, ...]:
    return (
        Fact("Project", request.project.name),
        Fact("Environment", request.environment.slug),
        Fact("Path", request.path),
        Fact("Access", " + ".join(request.access)),
        Fact("Duration", duration_text(request.duration_minutes)),
        Fact("Requested by", request.requester.email),
        Fact("Reason", request.reason),
        Fact("Request expires", request.expires_at.strftime("%Y-%m-%d %H:%M UTC")),
    )


def _send(request: AccessRequest, people: Iterable[Any], *, kind: str, title: str, summary: str, severity: str) -> None:
    send_request_message(
        project=request.project,
        subject=subject_ref(request),
        people=people,
        message=Message(
            event_kind=kind,
            title=title,
            summary=summary,
            facts=_facts(request),
            link_label="View request",
            severity=severity,
        ),
        link_for=_link_for(request),
    )


def access_request_opened(request: AccessRequest, approvers: Iterable[Any]) -> None:
    who = request.requester.email
    _send(
        request,
        approvers,
        kind=OPENED,
        title="Access request pending your review",
        summary=(
            f"{who} has requested temporary {' + '.join(request.access)} access to {request.path} in the "
            f"{request.environment.slug} environment of {request.project.name} "
            f"for {duration_text(request.duration_minutes)}."
        ),
        severity="info",
    )


def access_request_break_glass(request: AccessRequest, approvers: Iterable[Any]) -> None:
    who = request.requester.email
    _send(
        request,
        approvers,
        kind=BREAK_GLASS,
        title="Break-glass access granted",
        summary=(
            f"{who} broke the glass: they hold {' + '.join(request.access)} access to {request.path} in the "
            f"{request.environment.slug} environment of {request.project.name} "
            f"for {duration_text(request.duration_minutes)} without approval. Review it now; "
            "approvers and project admins can revoke it early."
        ),
        severity="critical",
    )


def access_request_reminder(request: AccessRequest, approvers: Iterable[Any]) -> None:
    _send(
        request,
        approvers,
        kind=REMINDER,
        title="Access request still waiting for your review",
        summary=(
            f"{request.requester.email} is still waiting for {' + '.join(request.access)} access to "
            f"{request.path} in {request.environment.slug} of {request.project.name}."
        ),
        severity="warning",
    )


def access_request_settled(request: AccessRequest, status_text: str) -> None:
    """Follow up on the notifications of a request that is decided (approved, rejected, expired,
    cancelled): Slack messages are replaced, other channels get a short follow-up."""
    try:
        with transaction.atomic():
            notification_follow_up(subject_ref=subject_ref(request), status_text=status_text)
    except Exception:
        logger.exception("access request follow-up could not be recorded")

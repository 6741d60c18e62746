"""What approvals tell people, through the notifications app (``notifications.services``).

Messages carry the project, environment, path, keys, requester, expiry and a review link: never a
value and never a bypass reason (those stay in our database). Sending happens after the commit of
the change it announces (callers use ``transaction.on_commit``) and never fails the change: a
notification that cannot be queued is logged by name only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from approvals.links import link_for_request
from notifications.services import Fact, Message, notification_follow_up, notification_send

if TYPE_CHECKING:
    from approvals.models import ChangeRequest

logger = logging.getLogger("strongroom.approvals")


def review_url(request: ChangeRequest) -> str:
    """The absolute URL of the request's review page."""
    path = reverse("approvals:change_request_detail", args=[request.project.slug, str(request.public_id)])
    return settings.SITE_URL.rstrip("/") + path


def subject_ref(request: ChangeRequest) -> str:
    return f"change_request:{request.public_id}"


def _keys_text(request: ChangeRequest) -> str:
    keys = [item.key for item in request.items.all() if item.key]
    if not keys:
        return {"folder.rolled_back": "(whole folder rolled back)", "folder.deleted": "(folder deleted)"}.get(
            request.operation, "-"
        )
    shown = ", ".join(keys[:20])
    return shown + (f" and {len(keys) - 20} more" if len(keys) > 20 else "")


def _facts(request: ChangeRequest) -> tuple[Any, ...]:
    return (
        Fact("Project", request.project.name),
        Fact("Environment", request.environment.slug),
        Fact("Path", request.path),
        Fact("Keys", _keys_text(request)),
        Fact("Requested by", request.committer_label),
        Fact("Policy", request.policy.name if request.policy else "-"),
        Fact("Expires", request.expires_at.strftime("%Y-%m-%d %H:%M UTC")),
    )


def send_request_message(
    *,
    project: Any,
    subject: str,
    people: Iterable[Any],
    message: Message,
    link_for: Callable[[str], str],
) -> None:
    """Queue *message* about one request (``subject``: ``change_request:<id>``/``access_request:<id>``)
    to *people* and the project's routed channels. Runs in a savepoint, so a failure here never
    breaks the caller's transaction nor undoes the change it announces; it is logged by name only."""
    try:
        with transaction.atomic():
            notification_send(
                organization_id=project.organization_id,
                project_id=project.pk,
                message=message,
                subject_ref=subject,
                people=tuple(people),
                link_for=link_for,
            )
    except Exception:  # noqa: BLE001 - a notification never undoes or fails the change it announces
        logger.exception("approvals: could not queue notification %s for %s", message.event_kind, subject)


def _send(request: ChangeRequest, people: Iterable[Any], *, kind: str, title: str, summary: str, severity: str) -> None:
    send_request_message(
        project=request.project,
        subject=subject_ref(request),
        people=people,
        message=Message(
            event_kind=kind,
            title=title,
            summary=summary,
            facts=_facts(request),
            link_label="Review the change request",
            severity=severity,
        ),
        link_for=link_for_request("change", request.public_id),  # signed, per recipient
    )


def _approvers(request: ChangeRequest) -> list[Any]:
    from approvals.selectors.policies import policy_people

    if request.policy is None:
        return []
    return list(policy_people(request.policy))


def notify_opened(request: ChangeRequest) -> None:
    needed = request.policy.approvals_required if request.policy else 1
    _send(
        request,
        _approvers(request),
        kind="approvals.change_request.opened",
        title="Secret change request",
        summary=(
            f"{request.committer_label} asks to change {request.environment.slug}:{request.path} "
            f"in {request.project.name}; it needs {needed} approval(s)."
        ),
        severity="info",
    )


def notify_bypassed(request: ChangeRequest, by_label: str) -> None:
    _send(
        request,
        _approvers(request),
        kind="approvals.change_request.bypassed",
        title="Secret change policy bypassed",
        summary=(
            f"{by_label} merged a change to {request.environment.slug}:{request.path} in {request.project.name} "
            "without the required approvals (break-glass). The reason is recorded in Strongroom."
        ),
        severity="critical",
    )


def notify_reminder(request: ChangeRequest, people: Iterable[Any]) -> None:
    _send(
        request,
        people,
        kind="approvals.change_request.reminder",
        title="Secret change request still waiting for your review",
        summary=(
            f"{request.committer_label}'s change to {request.environment.slug}:{request.path} "
            f"in {request.project.name} is still open."
        ),
        severity="info",
    )


def notify_follow_up(request: ChangeRequest, status_text: str, *, final: bool = True) -> None:
    """Tell whoever was told about *request* what became of it (merged, closed, expired…). A step
    on the way (approved, revised) is *not final*: it only edits messages in place (Slack)."""
    try:
        notification_follow_up(subject_ref=subject_ref(request), status_text=status_text, final=final)
    except Exception:  # noqa: BLE001 - see _send
        logger.exception("approvals: could not queue follow-up for %s", subject_ref(request))

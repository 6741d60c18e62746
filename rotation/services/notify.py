"""Tell a project's admins that a rotation failed for good (``rotation.failed``), or that the reset
of a revealed credential keeps failing (``rotation.reset_failed``: the revealed value still works),
through the notifications app: one e-mail per admin and any organization channel routed
``rotation.*``. The message names the rotation, the user and the sanitised reason: never a password."""

from __future__ import annotations

from django.conf import settings

from dynamic.services.notify import project_admins
from notifications.services import Fact, Message, notification_send
from rotation.models import Rotation

EVENT_KIND = "rotation.failed"
RESET_EVENT_KIND = "rotation.reset_failed"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _send(rotation: Rotation, message: Message) -> None:
    """Queue *message* about *rotation* for the project's admins inside the caller's transaction
    (deliveries go out after it commits)."""
    link = f"{settings.SITE_URL.rstrip('/')}/projects/{rotation.project.slug}/rotations/{rotation.public_id}/"
    notification_send(
        organization_id=rotation.project.organization_id,
        project_id=rotation.project_id,
        message=message,
        subject_ref=f"rotation:{rotation.public_id}",
        people=project_admins(rotation.project_id, rotation.project.organization_id),
        link_for=lambda _key: link,
    )


def notify_reset_failed(rotation: Rotation, *, attempts: int, who: str, reason: str, retry_at: str) -> None:
    """The reset of a revealed credential failed *attempts* times in a row: it still works."""
    _send(
        rotation,
        Message(
            event_kind=RESET_EVENT_KIND,
            title=f"A revealed credential of '{rotation.name}' is still valid",
            summary=(
                f"A person revealed a value of {rotation.name} ({rotation.environment.slug}:{rotation.folder.path}). "
                f"The rotation replaced it, but resetting {who}, which still accepts the revealed value, failed "
                f"{_times(attempts)}. Strongroom keeps retrying (next at {retry_at}); fix the cause, or reset it by hand."
            ),
            facts=(
                Fact("Rotation", rotation.name),
                Fact("Environment", rotation.environment.slug),
                Fact("Path", rotation.folder.path),
                Fact("Still valid", who),
                Fact("Last error", reason or "-"),
            ),
            link_label="Open the rotation",
            severity="critical",
        ),
    )


def notify_failed(rotation: Rotation, *, attempts: int) -> None:
    """Queue the alert inside the caller's transaction (deliveries go out after it commits)."""
    active = rotation.usernames[rotation.active_index] if rotation.active_index is not None else "-"
    next_run = rotation.next_run_at.strftime("%Y-%m-%d %H:%M UTC") if rotation.next_run_at else "not scheduled"
    message = Message(
        event_kind=EVENT_KIND,
        title=f"Rotation '{rotation.name}' failed",
        summary=(
            f"Strongroom tried {_times(attempts)} to rotate {rotation.name} ({rotation.environment.slug}:"
            f"{rotation.folder.path}) and gave up for now. The owned secrets still hold the previous, valid "
            f"credential. The next attempt is at the next scheduled slot ({next_run}); fix the cause or "
            'press "rotate now".'
        ),
        facts=(
            Fact("Rotation", rotation.name),
            Fact("Environment", rotation.environment.slug),
            Fact("Path", rotation.folder.path),
            Fact("Active user", active),
            Fact("Last error", rotation.last_error or "-"),
        ),
        link_label="Open the rotation",
        severity="critical",
    )
    _send(rotation, message)

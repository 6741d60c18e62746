"""Tell a project's admins that a rotation failed for good (``rotation.failed``), through the
notifications app: one e-mail per admin and any organization channel routed ``rotation.*``. The
message names the rotation, the user and the sanitised reason: never a password."""

from __future__ import annotations

from django.conf import settings

from dynamic.services.notify import project_admins
from notifications.services import Fact, Message, notification_send
from rotation.models import Rotation

EVENT_KIND = "rotation.failed"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def notify_failed(rotation: Rotation, *, attempts: int) -> None:
    """Queue the alert inside the caller's transaction (deliveries go out after it commits)."""
    base = settings.SITE_URL.rstrip("/")
    link = f"{base}/projects/{rotation.project.slug}/"
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
        link_label="Open the project",
        severity="critical",
    )
    notification_send(
        organization_id=rotation.project.organization_id,
        project_id=rotation.project_id,
        message=message,
        subject_ref=f"rotation:{rotation.public_id}",
        people=project_admins(rotation.project_id, rotation.project.organization_id),
        link_for=lambda _key: link,
    )

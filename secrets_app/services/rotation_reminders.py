"""Reminders to a secret's rotation owner, through the notifications app (e-mail to the owner and
any organization channel routed ``rotation.due``).

This is secrets_app's one use of ``notifications`` (DESIGN.md has notifications depend on the core):
the import happens here only, in a module nothing in the core's import chain loads at start-up.
Messages name the project, environment, path, key and due date: never a value.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from notifications.services import Fact, Message, notification_send
from secrets_app.models import Secret
from secrets_app.selectors.rotation_policies import DueSecret, DueStatus, secrets_due_all

logger = logging.getLogger("strongroom.secrets")
EVENT_KIND = "rotation.due"


def _claim(secret: Secret, due_at: datetime.datetime) -> bool:
    """Compare-and-set: True for the one caller that records the reminder of this due period."""
    claimed = (
        Secret.objects.filter(pk=secret.pk).exclude(rotation_reminded_for=due_at).update(rotation_reminded_for=due_at)
    )
    return claimed == 1


def rotation_reminder_send(secret: Secret, entry: DueSecret, *, reason: str = "") -> bool:
    """Remind the owner of *secret* once per due period (``entry.due_at``). Returns True when a
    reminder was queued now, False when this period was reminded already. Never raises: a
    reminder that cannot be queued is logged by secret id only and the claim is undone."""
    project = secret.project
    link = settings.SITE_URL.rstrip("/") + reverse("ui:secrets_due", args=[project.slug])
    when = entry.due_at.strftime("%Y-%m-%d %H:%M UTC")
    overdue = entry.status == DueStatus.OVERDUE
    summary = reason or (
        f"{entry.key} in {project.name} ({entry.environment}:{entry.path}) "
        + (f"was due for rotation on {when}." if overdue else f"is due for rotation on {when}.")
    )
    message = Message(
        event_kind=EVENT_KIND,
        title=f"Rotate {entry.key}" + (" (overdue)" if overdue else ""),
        summary=summary,
        facts=(
            Fact("Project", project.name),
            Fact("Environment", entry.environment),
            Fact("Path", entry.path),
            Fact("Key", entry.key),
            Fact("Due", when),
            Fact("Policy", f"every {entry.interval_days} days" if entry.interval_days else "-"),
        ),
        link_label="Open the secrets due for rotation",
        severity="warning" if overdue else "info",
    )
    try:
        with transaction.atomic():
            if not _claim(secret, entry.due_at):
                return False
            owner = secret.rotation_owner
            people = (owner,) if owner is not None and owner.is_active else ()
            notification_send(
                organization_id=project.organization_id,
                project_id=project.pk,
                message=message,
                subject_ref=f"secret:{secret.pk}:rotation:{int(entry.due_at.timestamp())}",
                people=people,
                link_for=lambda _key: link,
            )
    except Exception:  # noqa: BLE001 - a reminder never fails the sweep nor the reveal that caused it
        logger.exception("rotation policies: could not queue the reminder for secret %s", secret.pk)
        return False
    return True


def rotation_reminders_send() -> int:
    """The sweep: one reminder per overdue or due-soon secret and due period. Idempotent."""
    sent = 0
    for secret, entry in secrets_due_all():
        if secret.rotation_reminded_for == entry.due_at:
            continue
        sent += rotation_reminder_send(secret, entry)
    return sent

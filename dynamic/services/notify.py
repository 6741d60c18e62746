"""Tell a project's admins that a lease could not be revoked (``leases.irrevocable``), through the
notifications app: one e-mail per admin and any organization channel routed ``leases.*``. The
message names the dynamic secret, the username and the reason: never a password."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q

from dynamic.models import Lease
from notifications.services import Fact, Message, notification_send
from secrets_app.models import BuiltinRole, OrgRole

logger = logging.getLogger("strongroom.dynamic")
EVENT_KIND = "leases.irrevocable"


def project_admins(project_id: int | None, organization_id: int) -> list[AbstractBaseUser]:
    """Active people who are admins of the project, or of its organization."""
    query = Q(org_memberships__organization_id=organization_id, org_memberships__role=OrgRole.ADMIN)
    if project_id is not None:
        query |= Q(project_memberships__project_id=project_id, project_memberships__builtin_role=BuiltinRole.ADMIN)
    return list(get_user_model().objects.filter(query, is_active=True).distinct().order_by("pk"))


def notify_irrevocable(lease: Lease) -> None:
    """Queue the alert. Never raises: a notification that cannot be queued is logged by id only."""
    base = settings.SITE_URL.rstrip("/")
    link = f"{base}/projects/{lease.project.slug}/" if lease.project is not None else f"{base}/"
    message = Message(
        event_kind=EVENT_KIND,
        title=f"Lease of '{lease.dynamic_secret_name}' could not be revoked",
        summary=(
            f"Strongroom tried {lease.revoke_attempts} times to revoke the database user {lease.username} "
            f"({lease.dynamic_secret_name} in {lease.environment_slug}:{lease.path}) and gave up. The user may "
            "still log in: remove it by hand, then force-revoke the lease."
        ),
        facts=(
            Fact("Dynamic secret", lease.dynamic_secret_name),
            Fact("Environment", lease.environment_slug),
            Fact("Path", lease.path),
            Fact("Username", lease.username),
            Fact("Expired", lease.expire_at.strftime("%Y-%m-%d %H:%M UTC")),
            Fact("Last error", lease.last_error or "-"),
        ),
        link_label="Open the project",
        severity="critical",
    )
    try:
        with transaction.atomic():
            notification_send(
                organization_id=lease.organization_id_snapshot,
                project_id=lease.project_id,
                message=message,
                subject_ref=f"lease:{lease.public_id}",
                people=project_admins(lease.project_id, lease.organization_id_snapshot),
                link_for=lambda _key: link,
            )
    except Exception:  # noqa: BLE001 - an alert never fails the revocation bookkeeping
        logger.exception("dynamic: could not queue the irrevocable alert for lease %s", lease.public_id)

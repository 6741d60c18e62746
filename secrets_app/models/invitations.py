"""E-mail invitations into an organization, and a person's TOTP recovery codes.

Neither stores its secret: an invitation keeps a keyed hash of the random part of its link, a
recovery code a keyed hash of the code (services: ``secrets_app/services/invitations.py`` and
``secrets_app/services/recovery_codes.py``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from secrets_app.models.organizations import Organization, OrgRole


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"  # set when a new invitation replaces an expired pending one


class Invitation(models.Model):
    """An org admin's invitation of an e-mail address into the organization with a role.

    The link's random part is stored only as ``token_hash``; a resend draws a new one (the old link
    stops working) and restarts ``expires_at``. A pending invitation past ``expires_at`` is expired
    whatever its status column says (no worker needed)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=OrgRole.choices, default=OrgRole.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_count = models.PositiveIntegerField(default=0)
    # Why the last e-mail could not be sent (the mail server's answer, never the link); "" when sent.
    send_error = models.CharField(max_length=300, blank=True, default="")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(status="pending"),
                name="uniq_pending_invitation_per_email",
            )
        ]

    def __repr__(self) -> str:
        return f"<Invitation {self.public_id} {self.status}>"


class RecoveryCode(models.Model):
    """One single-use TOTP recovery code of a person: a keyed hash only; ``used_at`` once spent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="uniq_recovery_code_per_user")]

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.pk} {'used' if self.used_at else 'unused'}>"

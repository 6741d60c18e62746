from __future__ import annotations

from django.conf import settings
from django.db import models


class PersonalAccessToken(models.Model):
    """A person's API token. Only a keyed hash is stored; the token is shown once at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __repr__(self) -> str:
        return f"<PersonalAccessToken {self.pk} {self.prefix}…>"


class UserTOTP(models.Model):
    """A person's TOTP second factor; the seed is encrypted under the root key."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp")
    seed_ciphertext = models.BinaryField()
    confirmed = models.BooleanField(default=False)
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class TemporaryAccessGrant(models.Model):
    """Extra rules a person (or identity) holds in a project until ``ends_at``: what an approved
    access request (approvals) grants. The permission check itself reads only grants whose window
    is open (``starts_at <= now < ends_at`` and not revoked), so access stops at ``ends_at`` even when
    no worker runs; a beat task only tidies ended grants up for display. ``rules`` is a list of
    ``{"effect", "action", "environments", "path", "tags"}`` dicts as ``secrets_app.policy.Rule`` takes."""

    project = models.ForeignKey("secrets_app.Project", on_delete=models.CASCADE, related_name="temporary_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="temporary_grants"
    )
    identity = models.ForeignKey(
        "secrets_app.MachineIdentity",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="temporary_grants",
    )
    rules = models.JSONField(default=list)
    reason = models.CharField(max_length=500, blank=True, default="")
    source = models.CharField(max_length=120, blank=True, default="")  # "access_request:<uuid>"
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the tidy-up recorded ``access.expired`` for it (display only; enforcement reads the window).
    ended_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-ends_at", "-id"]
        indexes = [models.Index(fields=["project", "user", "ends_at"]), models.Index(fields=["ends_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="grant_window_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, identity__isnull=True)
                    | models.Q(user__isnull=True, identity__isnull=False)
                ),
                name="grant_user_xor_identity",
            ),
        ]

    def __repr__(self) -> str:
        return f"<TemporaryAccessGrant {self.pk} until {self.ends_at:%Y-%m-%dT%H:%M}Z>"

    @property
    def seconds_left(self) -> int:
        """Whole seconds until the grant ends (0 once ended or revoked)."""
        from django.utils import timezone

        if self.revoked_at is not None:
            return 0
        return max(0, int((self.ends_at - timezone.now()).total_seconds()))

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

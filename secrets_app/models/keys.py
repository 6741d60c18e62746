from __future__ import annotations

from django.db import models

from secrets_app.models.projects import Project


class RootKeyCheck(models.Model):
    """One row: a known plaintext sealed under the root key, to tell a wrong key from the right one at start-up."""

    root_key_id = models.BigIntegerField()
    check_ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)


class DataKey(models.Model):
    """A project's data key, wrapped by the root key. Several versions may exist; the newest encrypts.
    Rows without a project are the *system* data key, for server-owned secrets that belong to no
    project (TOTP seeds, auth-method and connection credentials), so root rotation re-wraps keys only."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="data_keys", null=True, blank=True)
    version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField()
    root_key_id = models.BigIntegerField()
    encryption_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="uniq_data_key_version")]

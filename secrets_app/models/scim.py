"""SCIM 2.0 provisioning: an organization's bearer tokens and the directory's view of its people.

A SCIM token belongs to one organization and reaches only that organization's people and groups.
Only a keyed hash is stored (like personal tokens); the token is shown once at creation.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models.organizations import Organization


class ScimToken(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_tokens")
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __repr__(self) -> str:
        return f"<ScimToken {self.pk} {self.prefix}…>"


class ScimPerson(models.Model):
    """An organization member as the directory knows them: the SCIM ``id`` we answer with and the
    directory's ``externalId`` (Entra's object id). Made when SCIM creates or first finds the person."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_people")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_links")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="uniq_scim_person_per_org")]

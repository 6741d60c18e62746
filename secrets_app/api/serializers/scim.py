"""An organization's SCIM provisioning tokens."""

from __future__ import annotations

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer


class ScimTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the token, to recognise it")
    createdBy = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True, help_text="Revoked tokens stay listed")


class ScimTokenListSerializer(serializers.Serializer):
    tokens = ScimTokenSerializer(many=True)


class ScimTokenCreatedSerializer(ScimTokenSerializer):
    token = serializers.CharField(
        help_text="The token, for the directory's provisioning settings (Entra: Secret Token). Shown once"
    )
    tenantUrl = serializers.URLField(help_text="The SCIM endpoint to give the directory (Entra: Tenant URL)")


class ScimTokenCreateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120, help_text="What the token is for, e.g. 'Entra ID provisioning'")

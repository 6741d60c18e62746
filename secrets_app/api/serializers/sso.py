"""An organization's single sign-on configuration (the client secret is write-only)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer


class SsoConfigSerializer(serializers.Serializer):
    issuer = serializers.CharField(source="issuer_url", help_text="Issuer or discovery document URL")
    clientId = serializers.CharField(source="client_id")
    clientSecretSet = serializers.SerializerMethodField(help_text="A client secret is stored (it is never returned)")
    allowedDomains = serializers.ListField(child=serializers.CharField(), source="allowed_domains")
    allowedGroupIds = serializers.ListField(child=serializers.CharField(), source="allowed_group_ids")
    claimEmail = serializers.CharField(source="claim_email")
    claimName = serializers.CharField(source="claim_name")
    claimGroups = serializers.CharField(source="claim_groups")
    requireSso = serializers.BooleanField(source="require_sso")
    breakGlassEmails = serializers.SerializerMethodField()
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_clientSecretSet(self, config: Any) -> bool:  # noqa: N802
        return bool(config.client_secret_ciphertext)

    def get_breakGlassEmails(self, config: Any) -> list[str]:  # noqa: N802
        return sorted(user.email for user in config.break_glass_users.all())


class SsoConfigRequest(StrictSerializer):
    issuer = serializers.URLField(max_length=500, help_text="Entra ID: https://login.microsoftonline.com/<tenant>/v2.0")
    clientId = serializers.CharField(max_length=255)
    clientSecret = serializers.CharField(
        required=False,
        write_only=True,
        max_length=1000,
        trim_whitespace=False,
        help_text="Required the first time; omit to keep the stored one. Never returned",
    )
    allowedDomains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, default=list, max_length=100
    )
    allowedGroupIds = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, default=list, max_length=500
    )
    claimEmail = serializers.CharField(required=False, default="email", max_length=64)
    claimName = serializers.CharField(required=False, default="name", max_length=64)
    claimGroups = serializers.CharField(required=False, default="groups", max_length=64)
    requireSso = serializers.BooleanField(required=False, default=False)
    breakGlassEmails = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        default=list,
        max_length=20,
        help_text="Local admins who may still sign in with a password (audited and mailed to the org admins)",
    )

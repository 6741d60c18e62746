"""Machine identities, universal auth, client secrets and the machine login routes.

No response schema here has a hash or secret field, except the one creation response of a client
secret (``clientSecret``) and the login responses (``accessToken``)."""

from __future__ import annotations

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer


class IdentityMembershipBriefSerializer(serializers.Serializer):
    project = serializers.CharField(source="project.slug")
    projectId = serializers.UUIDField(source="project.public_id")
    role = serializers.CharField(source="role_slug")


class IdentitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", help_text="The identity's id (identityId in login routes)")
    name = serializers.CharField()
    isActive = serializers.BooleanField(source="is_active")
    organization = serializers.CharField(source="organization.slug")
    authMethods = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_authMethods(self, identity) -> list[str]:  # noqa: N802 - the field's name
        # hasattr is False for a missing one-to-one (RelatedObjectDoesNotExist is an AttributeError).
        methods = ["universal-auth"] if hasattr(identity, "universal_auth") else []
        methods += sorted(auth.kind for auth in identity.jwt_auths.all())
        if hasattr(identity, "kubernetes_auth"):
            methods.append("kubernetes-auth")
        return methods


class IdentityDetailSerializer(IdentitySerializer):
    projects = IdentityMembershipBriefSerializer(source="project_memberships.all", many=True)


class IdentityListSerializer(serializers.Serializer):
    identities = IdentitySerializer(many=True)


class IdentityCreateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120)


class IdentityUpdateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    isActive = serializers.BooleanField(required=False)


class UniversalAuthSerializer(serializers.Serializer):
    clientId = serializers.UUIDField(source="client_id")
    accessTokenTTL = serializers.IntegerField(source="access_token_ttl")
    accessTokenMaxTTL = serializers.IntegerField(source="access_token_max_ttl")
    accessTokenNumUsesLimit = serializers.IntegerField(source="access_token_num_uses_limit")
    accessTokenTrustedIps = serializers.ListField(child=serializers.CharField(), source="access_token_trusted_ips")
    clientSecretTrustedIps = serializers.ListField(child=serializers.CharField(), source="client_secret_trusted_ips")
    lockoutEnabled = serializers.BooleanField(source="lockout_enabled")
    lockoutThreshold = serializers.IntegerField(source="lockout_threshold")
    lockoutDurationSeconds = serializers.IntegerField(source="lockout_duration_seconds")
    lockoutCounterResetSeconds = serializers.IntegerField(source="lockout_counter_reset_seconds")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


UNIVERSAL_REQUEST_FIELDS = {
    "accessTokenTTL": "access_token_ttl",
    "accessTokenMaxTTL": "access_token_max_ttl",
    "accessTokenNumUsesLimit": "access_token_num_uses_limit",
    "accessTokenTrustedIps": "access_token_trusted_ips",
    "clientSecretTrustedIps": "client_secret_trusted_ips",
    "lockoutEnabled": "lockout_enabled",
    "lockoutThreshold": "lockout_threshold",
    "lockoutDurationSeconds": "lockout_duration_seconds",
    "lockoutCounterResetSeconds": "lockout_counter_reset_seconds",
}


class UniversalAuthRequest(StrictSerializer):
    """Every field optional: PUT attaches with defaults for what is left out, PATCH changes only what is given."""

    accessTokenTTL = serializers.IntegerField(required=False, min_value=1, help_text="Seconds (default 3600)")
    accessTokenMaxTTL = serializers.IntegerField(required=False, min_value=1, help_text="Seconds (default 86400)")
    accessTokenNumUsesLimit = serializers.IntegerField(required=False, min_value=0, help_text="0 = unlimited")
    accessTokenTrustedIps = serializers.ListField(child=serializers.CharField(), required=False)
    clientSecretTrustedIps = serializers.ListField(child=serializers.CharField(), required=False)
    lockoutEnabled = serializers.BooleanField(required=False)
    lockoutThreshold = serializers.IntegerField(required=False, help_text="Failures before the lock (1–30, default 3)")
    lockoutDurationSeconds = serializers.IntegerField(required=False, help_text="30–86400, default 300")
    lockoutCounterResetSeconds = serializers.IntegerField(required=False, help_text="5–3600, default 30")


class ClientSecretSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    clientSecretPrefix = serializers.CharField(source="prefix")
    ttl = serializers.IntegerField(source="ttl_seconds", help_text="Seconds; 0 = never expires")
    numUsesLimit = serializers.IntegerField(source="num_uses_limit", help_text="0 = unlimited")
    numUses = serializers.IntegerField(source="num_uses")
    trustedIps = serializers.ListField(child=serializers.CharField(), source="trusted_ips")
    isRevoked = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)

    def get_isRevoked(self, secret) -> bool:  # noqa: N802
        return secret.revoked_at is not None


class ClientSecretListSerializer(serializers.Serializer):
    clientSecrets = ClientSecretSerializer(many=True)


class ClientSecretCreateRequest(StrictSerializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    ttl = serializers.IntegerField(required=False, min_value=0, default=0, help_text="Seconds; 0 = never expires")
    numUsesLimit = serializers.IntegerField(required=False, min_value=0, default=0, help_text="0 = unlimited")
    trustedIps = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class ClientSecretCreatedSerializer(serializers.Serializer):
    clientSecret = serializers.CharField(help_text="Shown only in this response; only a keyed hash is stored")
    clientId = serializers.UUIDField()
    clientSecretData = ClientSecretSerializer()


class RevokeRequest(StrictSerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default="", help_text="Kept in the audit log"
    )


class TokensRevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many live tokens were revoked")


class IdentityMemberSerializer(serializers.Serializer):
    identityId = serializers.UUIDField(source="identity.public_id")
    name = serializers.CharField(source="identity.name")
    role = serializers.CharField(source="role_slug")
    createdAt = serializers.DateTimeField(source="created_at")


class IdentityMemberListSerializer(serializers.Serializer):
    identities = IdentityMemberSerializer(many=True)


class IdentityMemberAddRequest(StrictSerializer):
    identityId = serializers.UUIDField()
    role = serializers.CharField(max_length=64)


class IdentityMemberUpdateRequest(StrictSerializer):
    role = serializers.CharField(max_length=64)


class UniversalAuthLoginRequest(serializers.Serializer):
    clientId = serializers.CharField(max_length=100)
    clientSecret = serializers.CharField(max_length=200, write_only=True, trim_whitespace=False)
    # Sent by Infisical's SDKs; ignored (the client id decides the organization).
    organizationSlug = serializers.CharField(required=False, allow_blank=True)


class AccessTokenRequest(StrictSerializer):
    accessToken = serializers.CharField(write_only=True, max_length=4000, trim_whitespace=False)


class LoginResponseSerializer(serializers.Serializer):
    accessToken = serializers.CharField()
    expiresIn = serializers.IntegerField(help_text="Seconds until the token expires")
    accessTokenMaxTTL = serializers.IntegerField(help_text="Seconds from issue after which renewals stop")
    tokenType = serializers.CharField(help_text="Always `Bearer`")


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()
